//! Echo round trips over loopback TCP, side by side with tokio in the same
//! run: 50 connections, each doing 200 round trips of 64 bytes per
//! iteration (10,000 round trips), client and server on one thread.
//!
//! * `ioloop`: `netutil::TCPServer` handlers and client tasks on
//!   `IOStream` (`read_into`, `write`), on one `IOLoop`;
//! * `tokio`: `tokio::net::TcpListener`/`TcpStream` tasks (`read`,
//!   `write_all`, `read_exact`) on a current-thread runtime.
//!
//! ```text
//! cargo bench -p benches --features peers --bench echo
//! ```

use std::rc::Rc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ioloop::{IOLoop, MakeCurrent};
use netutil::{IOStream, TCPServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNECTIONS: usize = 50;
const ROUNDS: usize = 200;
const MESSAGE: [u8; 64] = [b'x'; 64];

fn ioloop_echo(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Always)
        .build()
        .expect("loop");
    let server = TCPServer::new(|stream: IOStream, _| async move {
        let _ = stream.set_nodelay(true);
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read_into(&mut buf, true).await {
            if stream.write(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let addr = server.listen(0, Some("127.0.0.1")).expect("listen")[0];
    let clients: Rc<Vec<IOStream>> = Rc::new(
        ioloop
            .run_sync(
                || async {
                    let mut clients = Vec::new();
                    for _ in 0..CONNECTIONS {
                        let s = IOStream::connect(addr).await.expect("connect");
                        s.set_nodelay(true).unwrap();
                        clients.push(s);
                    }
                    clients
                },
                None,
            )
            .expect("connect"),
    );
    group.bench_function("ioloop", |b| {
        b.iter(|| {
            ioloop
                .run_sync(
                    || async {
                        let l = IOLoop::current();
                        let tasks: Vec<_> = clients
                            .iter()
                            .map(|s| {
                                let s = s.clone();
                                l.spawn(async move {
                                    let mut buf = [0u8; 64];
                                    for _ in 0..ROUNDS {
                                        s.write(&MESSAGE).await.unwrap();
                                        s.read_into(&mut buf, false).await.unwrap();
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await.unwrap();
                        }
                    },
                    None,
                )
                .unwrap();
        });
    });
    server.stop();
    drop(clients);
    ioloop.close(true).unwrap();
}

fn tokio_echo(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    // What `#[tokio::main(flavor = "current_thread")]` builds.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut clients: Vec<tokio::net::TcpStream> = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                s.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let mut clients = Vec::new();
        for _ in 0..CONNECTIONS {
            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            clients.push(s);
        }
        clients
    });
    group.bench_function("tokio", |b| {
        b.iter(|| {
            clients = rt.block_on(async {
                let tasks: Vec<_> = clients
                    .drain(..)
                    .map(|mut s| {
                        tokio::spawn(async move {
                            let mut buf = [0u8; 64];
                            for _ in 0..ROUNDS {
                                s.write_all(&MESSAGE).await.unwrap();
                                s.read_exact(&mut buf).await.unwrap();
                            }
                            s
                        })
                    })
                    .collect();
                let mut back = Vec::with_capacity(CONNECTIONS);
                for t in tasks {
                    back.push(t.await.unwrap());
                }
                back
            });
        });
    });
}

fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo/50conn_x200_64B");
    group.sample_size(20);
    group.throughput(Throughput::Elements((CONNECTIONS * ROUNDS) as u64));
    ioloop_echo(&mut group);
    tokio_echo(&mut group);
    group.finish();
}

criterion_group!(benches, echo);
criterion_main!(benches);
