//! Descriptor exhaustion (`EMFILE`) under a lowered `RLIMIT_NOFILE`: the
//! server pauses accepting without spinning a core or flooding the log,
//! and serves again once descriptors free up (tornado-semantics §4,
//! failure 4: thumbor#324). A binary of its own (`harness = false`): it
//! lowers the process's descriptor limit and measures the process's CPU
//! time.

#![allow(unsafe_code)]

mod fd_limit;
use fd_limit::{limit_leaving, set_fd_limit};

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ioloop::IOLoop;
use netutil::{IOStream, StreamOptions, TCPServer};

/// Records how many times the server logged a pause and a resumption.
struct Counter {
    pauses: Mutex<usize>,
    resumes: Mutex<usize>,
    others: Mutex<Vec<String>>,
}

static LOG: Counter = Counter {
    pauses: Mutex::new(0),
    resumes: Mutex::new(0),
    others: Mutex::new(Vec::new()),
};

impl log::Log for Counter {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record<'_>) {
        let text = record.args().to_string();
        if text.contains("pausing accepts") {
            *self.pauses.lock().unwrap() += 1;
        } else if text.contains("accepting again") {
            *self.resumes.lock().unwrap() += 1;
        } else if record.level() <= log::Level::Warn {
            self.others.lock().unwrap().push(text);
        }
    }
    fn flush(&self) {}
}

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

const CLIENTS: usize = 20;
const HEADROOM: u64 = 4;

/// Waits (on the loop) until `cond` holds, for at most `limit`.
async fn wait_for(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        ioloop::sleep(Duration::from_millis(5)).await;
    }
}

fn main() {
    log::set_logger(&LOG).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    let ioloop = integration_tests::TestLoop::new();

    // An echo server counting the lines it answered.
    let served = Rc::new(Cell::new(0usize));
    let s = served.clone();
    let server = TCPServer::new(move |stream: IOStream, _| {
        let s = s.clone();
        async move {
            while let Ok(line) = stream.read_until(b"\n", Some(100)).await {
                s.set(s.get() + 1);
                if stream.write(&line).await.is_err() {
                    break;
                }
            }
        }
    });
    let addr: SocketAddr = server.listen(0, Some("127.0.0.1")).unwrap()[0];

    // Every descriptor the clients need exists before the limit drops;
    // two spare ones are closed later to free descriptors that no stream
    // owned.
    let sockets: Vec<socket2::Socket> = (0..CLIENTS)
        .map(|_| {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let spares: Vec<std::fs::File> = (0..2)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    set_fd_limit(limit_leaving(HEADROOM));

    let report = ioloop
        .run_sync(
            || async move {
                let mut clients = Vec::new();
                for socket in sockets {
                    match socket.connect(&addr.into()) {
                        Ok(()) => {}
                        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
                        Err(e) => panic!("connect: {e}"),
                    }
                    clients.push(StreamOptions::new().build(socket).unwrap());
                }
                let answered = Rc::new(Cell::new(0usize));
                let mut readers = Vec::new();
                for (i, client) in clients.iter().enumerate() {
                    let line = format!("client {i}\n");
                    drop(client.write(line.as_bytes())); // sent even unawaited
                    let (c, a) = (client.clone(), answered.clone());
                    readers.push(IOLoop::current().spawn(async move {
                        let echo = c.read_until(b"\n", Some(100)).await.unwrap();
                        assert_eq!(echo, line.as_bytes());
                        a.set(a.get() + 1);
                    }));
                }

                // 1. Out of descriptors: the server pauses.
                wait_for("the pause", Duration::from_secs(10), || server.is_paused()).await;
                wait_for("the first answers", Duration::from_secs(10), || {
                    answered.get() >= 1
                })
                .await;
                let served_first = answered.get();
                assert!(
                    served_first < CLIENTS,
                    "the limit bit: {served_first} served"
                );

                // 2. While paused, the process is idle: no busy loop.
                let (cpu0, wall0) = (cpu_time(), Instant::now());
                ioloop::sleep(Duration::from_secs(1)).await;
                let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
                assert!(
                    cpu.as_secs_f64() < 0.3 * wall.as_secs_f64(),
                    "CPU {cpu:?} over {wall:?} while paused"
                );
                assert_eq!(
                    answered.get(),
                    served_first,
                    "nothing accepted while out of fds"
                );

                // 3. Descriptors no stream owned are freed: the back-off
                //    timer notices within PAUSE_MAX.
                drop(spares);
                wait_for("accepts after the timer", netutil::PAUSE_MAX * 3, || {
                    answered.get() >= served_first + 2
                })
                .await;

                // 4. Clients already answered hang up: their server streams
                //    close, which resumes accepting at once; all are served.
                for (i, client) in clients.iter().enumerate() {
                    if readers[i].is_finished() {
                        client.close();
                    }
                }
                wait_for("every client", Duration::from_secs(10), || {
                    answered.get() == CLIENTS
                })
                .await;
                for r in readers {
                    r.await.unwrap();
                }
                server.stop();
                (served_first, cpu, wall, served.get())
            },
            Some(Duration::from_secs(60)),
        )
        .expect("run_sync");
    let (first, cpu, wall, served) = report;
    let pauses = *LOG.pauses.lock().unwrap();
    let resumes = *LOG.resumes.lock().unwrap();
    let others = LOG.others.lock().unwrap().clone();
    assert_eq!(served, CLIENTS);
    assert_eq!(pauses, 1, "one warning for the whole episode");
    assert_eq!(resumes, 1, "one record when it ends");
    assert!(others.is_empty(), "no other warnings: {others:?}");
    println!(
        "emfile: {first} served before the pause; CPU {cpu:?} over {wall:?} paused; 1 warning; all {served} served after"
    );
    println!("1 passed, 0 failed");
}
