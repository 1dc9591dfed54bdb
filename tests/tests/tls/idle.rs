//! 1,000 idle TLS connections on one loop: all handshakes complete, all
//! stay open while idle, and each still answers afterwards.

use std::cell::Cell;
use std::io;
use std::rc::Rc;

use netutil::{IOStream, TCPClient, TCPServer};

use crate::pki::pki;
use crate::util::run;

const CONNECTIONS: usize = 1000;

#[test]
fn a_thousand_idle_tls_connections_stay_open_and_answer() {
    let open = Rc::new(Cell::new(0usize));
    let count = open.clone();
    let answered = run(|| async move {
        let server = TCPServer::new(move |stream: IOStream, _| {
            let count = count.clone();
            async move {
                count.set(count.get() + 1);
                while let Ok(line) = stream.read_until(b"\n", Some(1024)).await {
                    if stream.write(&line).await.is_err() {
                        break;
                    }
                }
                count.set(count.get() - 1);
            }
        });
        server.set_tls(Some(pki().server()));
        let port = server.listen(0, Some("127.0.0.1")).unwrap()[0].port();
        let client = TCPClient::new().tls(pki().client());
        let mut streams = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            streams.push(client.connect("127.0.0.1", port).await?);
        }
        // Idle a moment: nothing closes on its own.
        ioloop::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(
            open.get(),
            CONNECTIONS,
            "every connection reached the handler"
        );
        assert!(streams.iter().all(|s| !s.closed()));
        let mut answered = 0;
        for (i, stream) in streams.iter().enumerate() {
            let line = format!("{i}\n");
            stream.write(line.as_bytes()).await?;
            if stream.read_until(b"\n", Some(64)).await? == line.as_bytes() {
                answered += 1;
            }
        }
        io::Result::Ok(answered)
    })
    .unwrap();
    assert_eq!(answered, CONNECTIONS);
}
