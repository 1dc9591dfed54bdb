//! The loop micro-benchmark workloads, ours and the peers', in one place:
//! `benches/loop_micro.rs` times them with criterion, and the `micro`
//! binary runs one of them in a process of its own, for paired
//! whole-process timing (`benches/scripts/paired.py`), `strace -c`, `perf`
//! and `callgrind`.
//!
//! | group | ioloop | peers |
//! |---|---|---|
//! | `callbacks_chain_2M` | each callback adds the next (`ioloop_watchdog`: with the blocking watchdog on) | tokio: a task per step; calloop: `insert_idle` + `dispatch(0)` |
//! | `callbacks_batch_2M` | 2M queued, then run | tokio: 2M `spawn`; calloop: 2M `insert_idle` |
//! | `timers_insert_remove_1M` | 1M `call_later` over 0–1 s, every odd one removed | tokio-util `DelayQueue<()>` insert/remove (the peers' workload); `_boxed`: `DelayQueue` of boxed callbacks, what a timeout holds |
//! | `timers_total_1M` | the same, then run until the 500k others fire | `DelayQueue` drained by `poll_expired` (`_boxed`: each callback called) |
//! | `cross_thread_1M` | a second thread posts 1M `Remote::add_callback`, each closure capturing a `u64` and counting on the loop's thread | tokio unbounded mpsc of boxed closures; calloop `channel` |
//! | `pingpong_100_pairs` | 100 socket pairs, 1-byte echo, raw level-triggered handlers | tokio `UnixStream` tasks; calloop `Generic`, `Mode::Level` |
//!
//! calloop's 1M timers are left out: one `Timer` source per timer is
//! quadratic in calloop 0.14 (a linear free-slot scan on insert and an
//! O(n) cancel) and does not finish in 20 s.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ioloop::{Events, IOLoop, MakeCurrent, TimeoutHandle};

/// Callbacks in the chain and batch workloads.
pub const N_CALLBACKS: u64 = 2_000_000;
/// Timeouts in the timer workloads.
pub const N_TIMERS: usize = 1_000_000;
/// Callbacks sent from the second thread.
pub const N_XTHREAD: u64 = 1_000_000;
/// Socket pairs in the ping-pong workload.
pub const PAIRS: usize = 100;
/// Round trips per pair in the ping-pong workload.
pub const ROUND_TRIPS: u64 = 1_000;

/// A fresh loop, not made current.
pub fn new_loop() -> IOLoop {
    IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .expect("loop")
}

/// A current-thread tokio runtime with its I/O and time drivers.
pub fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The peers' timer delays: xorshift64*, fixed seed, 0..1000 ms in µs.
pub fn timer_delays_us(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) % 1_000_000
        })
        .collect()
}

// ----- callbacks ---------------------------------------------------------

/// One link of a callback chain: queues the next, `left` more, then stops.
fn chain_step(ioloop: IOLoop, left: u64) {
    if left == 0 {
        ioloop.stop();
    } else {
        let l = ioloop.clone();
        ioloop.add_callback(move || chain_step(l, left - 1));
    }
}

/// With `watchdog`, the blocking watchdog watches the loop (1 s threshold),
/// so every callback is published to it: the cost the watchdog adds.
pub fn ioloop_chain(n: u64, watchdog: bool) {
    let ioloop = new_loop();
    if watchdog {
        ioloop
            .set_blocking_log_threshold(Some(Duration::from_secs(1)))
            .unwrap();
    }
    let l = ioloop.clone();
    ioloop.add_callback(move || chain_step(l, n));
    ioloop.start().unwrap();
    ioloop.close(true).unwrap();
}

/// A chain of `n` callbacks on a loop that also watches a descriptor (a
/// socket that is never readable), so busy iterations may poll for I/O:
/// with `max_poll_skips` 0 the loop polls on every iteration, as Tornado
/// does; with the default it polls every `MAX_POLL_SKIPS + 1`.
pub fn ioloop_chain_with_fd(n: u64, max_poll_skips: u32) {
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .max_poll_skips(max_poll_skips)
        .build()
        .expect("loop");
    let (_a, b) = std::os::unix::net::UnixStream::pair().expect("socket pair");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&b);
    ioloop
        .add_handler(fd, ioloop::Events::READ, |_, _| {})
        .expect("register");
    let l = ioloop.clone();
    ioloop.add_callback(move || chain_step(l, n));
    ioloop.start().unwrap();
    ioloop.remove_handler(fd);
    ioloop.close(true).unwrap();
}

/// `n` callbacks queued, then run; the last stops the loop.
pub fn ioloop_batch(n: u64) {
    let ioloop = new_loop();
    let count = Rc::new(Cell::new(0u64));
    for _ in 0..n {
        let c = count.clone();
        ioloop.add_callback(move || c.set(c.get() + 1));
    }
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    ioloop.start().unwrap();
    assert_eq!(count.get(), n);
    ioloop.close(true).unwrap();
}

/// tokio: each step spawns a task for the next.
pub fn tokio_chain(rt: &tokio::runtime::Runtime, n: u64) {
    fn step(i: u64, n: u64, done: Arc<tokio::sync::Notify>) {
        if i == n {
            done.notify_one();
        } else {
            tokio::spawn(async move { step(i + 1, n, done) });
        }
    }
    rt.block_on(async {
        let done = Arc::new(tokio::sync::Notify::new());
        let d = done.clone();
        tokio::spawn(async move { step(1, n, d) });
        done.notified().await;
    });
}

/// tokio: `n` tasks spawned, then run.
pub fn tokio_batch(rt: &tokio::runtime::Runtime, n: u64) {
    rt.block_on(async {
        let count = Arc::new(AtomicU64::new(0));
        let done = Arc::new(tokio::sync::Notify::new());
        for _ in 0..n {
            let (c, d) = (count.clone(), done.clone());
            tokio::spawn(async move {
                if c.fetch_add(1, Ordering::Relaxed) + 1 == n {
                    d.notify_one();
                }
            });
        }
        done.notified().await;
    });
}

/// The state calloop's workloads dispatch with.
#[derive(Debug, Default)]
pub struct CalloopState {
    count: u64,
    target: u64,
    done: bool,
    per_pair: Vec<u64>,
}

/// calloop: each idle callback inserts the next, `dispatch(0)` until done.
pub fn calloop_chain(n: u64) {
    fn step(h: calloop::LoopHandle<'static, CalloopState>) {
        let h2 = h.clone();
        h.insert_idle(move |st: &mut CalloopState| {
            st.count += 1;
            if st.count < st.target {
                step(h2);
            } else {
                st.done = true;
            }
        });
    }
    let mut el: calloop::EventLoop<'static, CalloopState> = calloop::EventLoop::try_new().unwrap();
    let mut st = CalloopState {
        target: n,
        ..CalloopState::default()
    };
    step(el.handle());
    while !st.done {
        el.dispatch(Some(Duration::ZERO), &mut st).unwrap();
    }
}

/// calloop: `n` idle callbacks inserted, then dispatched.
pub fn calloop_batch(n: u64) {
    let mut el: calloop::EventLoop<'static, CalloopState> = calloop::EventLoop::try_new().unwrap();
    let h = el.handle();
    let mut st = CalloopState::default();
    for _ in 0..n {
        h.insert_idle(|st: &mut CalloopState| st.count += 1);
    }
    while st.count < n {
        el.dispatch(Some(Duration::ZERO), &mut st).unwrap();
    }
}

// ----- timers -------------------------------------------------------------

/// Inserts every timer and removes every odd one; returns the time that
/// took, and the loop with the rest pending.
pub fn ioloop_timers_insert_remove(delays: &[u64]) -> (Duration, IOLoop, Rc<Cell<u64>>) {
    let ioloop = new_loop();
    let fired = Rc::new(Cell::new(0u64));
    let t0 = Instant::now();
    let handles: Vec<TimeoutHandle> = delays
        .iter()
        .map(|&d| {
            let f = fired.clone();
            ioloop.call_later(Duration::from_micros(d), move || f.set(f.get() + 1))
        })
        .collect();
    for h in handles.iter().skip(1).step_by(2) {
        ioloop.remove_timeout(*h);
    }
    (t0.elapsed(), ioloop, fired)
}

/// From the first insert until the last surviving timer fired (the clock
/// stops in that timer's callback, as the DelayQueue side stops when its
/// last entry expires; the loop's teardown is not counted).
pub fn ioloop_timers_total(delays: &[u64]) -> Duration {
    /// What every timer's callback shares (one `Rc` clone per timer).
    struct Probe {
        t0: Instant,
        ioloop: IOLoop,
        target: u64,
        fired: Cell<u64>,
        took: Cell<Duration>,
    }
    let t0 = Instant::now();
    let ioloop = new_loop();
    let probe = Rc::new(Probe {
        t0,
        ioloop: ioloop.clone(),
        target: (delays.len() - delays.len() / 2) as u64,
        fired: Cell::new(0),
        took: Cell::new(Duration::ZERO),
    });
    let handles: Vec<TimeoutHandle> = delays
        .iter()
        .map(|&d| {
            let p = probe.clone();
            ioloop.call_later(Duration::from_micros(d), move || {
                p.fired.set(p.fired.get() + 1);
                if p.fired.get() == p.target {
                    p.took.set(p.t0.elapsed());
                    p.ioloop.stop();
                }
            })
        })
        .collect();
    for h in handles.iter().skip(1).step_by(2) {
        ioloop.remove_timeout(*h);
    }
    ioloop.start().unwrap();
    assert_eq!(probe.fired.get(), probe.target);
    ioloop.close(true).unwrap();
    probe.took.get()
}

/// A timer entry for the `tokio_delayqueue_boxed` variants: a callback,
/// as an ioloop timeout holds one.
pub type BoxedCallback = Box<dyn FnOnce(&mut u64)>;

/// `DelayQueue` insert + remove, each entry made by `entry` (the peers'
/// workload stores `()`; the `_boxed` variant a boxed callback, the same
/// work an ioloop timeout does); returns the time and the queue.
pub fn delayqueue_insert_remove<T>(
    delays: &[u64],
    mut entry: impl FnMut() -> T,
) -> (Duration, tokio_util::time::DelayQueue<T>) {
    let t0 = Instant::now();
    let mut dq = tokio_util::time::DelayQueue::with_capacity(delays.len());
    let keys: Vec<_> = delays
        .iter()
        .map(|&d| dq.insert(entry(), Duration::from_micros(d)))
        .collect();
    for k in keys.iter().skip(1).step_by(2) {
        dq.remove(k);
    }
    (t0.elapsed(), dq)
}

/// `DelayQueue`: the same inserts and removals, then drained by
/// `poll_expired` until the last surviving entry expires; `fire` gets
/// every expired entry.
pub fn delayqueue_total<T>(
    rt: &tokio::runtime::Runtime,
    delays: &[u64],
    entry: impl FnMut() -> T,
    mut fire: impl FnMut(T),
) -> Duration {
    rt.block_on(async {
        let t0 = Instant::now();
        let (_, mut dq) = delayqueue_insert_remove(delays, entry);
        let mut fired = 0usize;
        while let Some(expired) = std::future::poll_fn(|cx| dq.poll_expired(cx)).await {
            fire(expired.into_inner());
            fired += 1;
        }
        assert_eq!(fired, delays.len() - delays.len() / 2);
        t0.elapsed()
    })
}

/// A boxed callback for the `_boxed` variants, counting into its argument.
pub fn boxed_callback() -> BoxedCallback {
    let step = std::hint::black_box(1u64); // captured, so the Box allocates
    Box::new(move |count: &mut u64| *count += step)
}

// ----- cross-thread -------------------------------------------------------

thread_local! {
    /// The cross-thread count, kept on the loop's thread as tokio's and
    /// calloop's receivers keep theirs in a local: only the loop touches it.
    static RECEIVED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A second thread posts `n` callbacks with `Remote::add_callback`; each
/// captures one `u64` (as the peers' boxed closures do) and counts on the
/// loop's thread.
pub fn ioloop_cross_thread(n: u64) {
    let ioloop = new_loop();
    let remote = ioloop.remote();
    RECEIVED.set(0);
    let sender = std::thread::spawn(move || {
        for _ in 0..n {
            let inc = std::hint::black_box(1u64); // captured, so each Box allocates
            remote.add_callback(move || {
                let count = RECEIVED.get() + inc;
                RECEIVED.set(count);
                if count == n {
                    IOLoop::current().stop();
                }
            });
        }
    });
    ioloop.start().unwrap();
    sender.join().unwrap();
    assert_eq!(RECEIVED.get(), n);
    ioloop.close(true).unwrap();
}

/// tokio: a second thread sends `n` boxed closures on an unbounded mpsc.
pub fn tokio_cross_thread(rt: &tokio::runtime::Runtime, n: u64) {
    rt.block_on(async {
        type Job = Box<dyn FnOnce(&mut u64) + Send>;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let sender = std::thread::spawn(move || {
            for _ in 0..n {
                let inc = std::hint::black_box(1u64); // captured, so each Box allocates
                tx.send(Box::new(move |c: &mut u64| *c += inc)).unwrap();
            }
        });
        let mut count = 0u64;
        while count < n {
            match rx.recv().await {
                Some(f) => f(&mut count),
                None => break,
            }
        }
        sender.join().unwrap();
        assert_eq!(count, n);
    });
}

/// calloop: a second thread sends `n` boxed closures on a calloop channel.
pub fn calloop_cross_thread(n: u64) {
    type Job = Box<dyn FnOnce(&mut CalloopState) + Send>;
    let mut el: calloop::EventLoop<'static, CalloopState> = calloop::EventLoop::try_new().unwrap();
    let (tx, rx) = calloop::channel::channel::<Job>();
    el.handle()
        .insert_source(rx, |ev, _, st: &mut CalloopState| {
            if let calloop::channel::Event::Msg(f) = ev {
                f(st)
            }
        })
        .unwrap();
    let sender = std::thread::spawn(move || {
        for _ in 0..n {
            let inc = 1u64;
            tx.send(Box::new(move |st: &mut CalloopState| st.count += inc))
                .unwrap();
        }
    });
    let mut st = CalloopState::default();
    while st.count < n {
        el.dispatch(None, &mut st).unwrap();
    }
    sender.join().unwrap();
}

// ----- I/O ping-pong ------------------------------------------------------

fn nonblocking_pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Raw level-triggered handlers, no drained hints: Tornado-style code.
pub fn ioloop_pingpong(rounds: u64) {
    let ioloop = new_loop();
    let done = Rc::new(Cell::new(0usize));
    let mut keep = Vec::new();
    for _ in 0..PAIRS {
        let (a, b) = nonblocking_pair();
        let (a, b) = (Rc::new(a), Rc::new(b));
        let echo = b.clone();
        ioloop
            .add_handler(b.as_raw_fd(), Events::READ, move |_, _| {
                let mut buf = [0u8; 1];
                if let Ok(1) = (&*echo).read(&mut buf) {
                    (&*echo).write_all(&buf).unwrap();
                }
            })
            .unwrap();
        let (init, left, d, l) = (a.clone(), Cell::new(rounds), done.clone(), ioloop.clone());
        ioloop
            .add_handler(a.as_raw_fd(), Events::READ, move |fd, _| {
                let mut buf = [0u8; 1];
                if let Ok(1) = (&*init).read(&mut buf) {
                    left.set(left.get() - 1);
                    if left.get() == 0 {
                        l.remove_handler(fd);
                        d.set(d.get() + 1);
                        if d.get() == PAIRS {
                            l.stop();
                        }
                    } else {
                        (&*init).write_all(&buf).unwrap();
                    }
                }
            })
            .unwrap();
        (&*a).write_all(b"x").unwrap();
        keep.push((a, b));
    }
    ioloop.start().unwrap();
    for (a, b) in &keep {
        ioloop.remove_handler(a.as_raw_fd());
        ioloop.remove_handler(b.as_raw_fd());
    }
    ioloop.close(true).unwrap();
}

/// tokio: one task per socket, `UnixStream` read and write.
pub fn tokio_pingpong(rt: &tokio::runtime::Runtime, rounds: u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    rt.block_on(async {
        let mut initiators = Vec::with_capacity(PAIRS);
        for _ in 0..PAIRS {
            let (mut a, mut b) = tokio::net::UnixStream::pair().unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 1];
                while let Ok(1) = b.read(&mut buf).await {
                    b.write_all(&buf).await.unwrap();
                }
            });
            initiators.push(tokio::spawn(async move {
                let mut buf = [b'x'; 1];
                for _ in 0..rounds {
                    a.write_all(&buf).await.unwrap();
                    assert_eq!(a.read(&mut buf).await.unwrap(), 1);
                }
            }));
        }
        for h in initiators {
            h.await.unwrap();
        }
    });
}

/// calloop: `Generic` sources in `Mode::Level`.
pub fn calloop_pingpong(rounds: u64) {
    use calloop::generic::Generic;
    use calloop::{Interest, Mode, PostAction};
    let mut el: calloop::EventLoop<'static, CalloopState> = calloop::EventLoop::try_new().unwrap();
    let h = el.handle();
    let mut st = CalloopState {
        per_pair: vec![0; PAIRS],
        ..CalloopState::default()
    };
    for p in 0..PAIRS {
        let (a, b) = nonblocking_pair();
        h.insert_source(Generic::new(b, Interest::READ, Mode::Level), |_, f, _| {
            let mut s: &UnixStream = f;
            let mut buf = [0u8; 1];
            match s.read(&mut buf) {
                Ok(1) => {
                    s.write_all(&buf)?;
                    Ok(PostAction::Continue)
                }
                Ok(_) => Ok(PostAction::Remove),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(PostAction::Continue),
                Err(e) => Err(e),
            }
        })
        .unwrap();
        (&a).write_all(b"x").unwrap();
        h.insert_source(
            Generic::new(a, Interest::READ, Mode::Level),
            move |_, f, st: &mut CalloopState| {
                let mut s: &UnixStream = f;
                let mut buf = [0u8; 1];
                match s.read(&mut buf) {
                    Ok(1) => {
                        st.count += 1;
                        st.per_pair[p] += 1;
                        if st.per_pair[p] < rounds {
                            s.write_all(&buf)?;
                            Ok(PostAction::Continue)
                        } else {
                            Ok(PostAction::Remove)
                        }
                    }
                    Ok(_) => Ok(PostAction::Remove),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        Ok(PostAction::Continue)
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .unwrap();
    }
    let want = rounds * PAIRS as u64;
    while st.count < want {
        el.dispatch(None, &mut st).unwrap();
    }
}

// ----- one run, by name ---------------------------------------------------

/// Every `(group, implementation)` pair [`run_once`] knows.
pub const WORKLOADS: &[(&str, &str)] = &[
    ("callbacks_chain_2M", "ioloop"),
    ("callbacks_chain_2M", "ioloop_watchdog"),
    ("callbacks_chain_2M", "tokio"),
    ("callbacks_chain_2M", "calloop"),
    ("callbacks_chain_with_fd_2M", "ioloop"),
    ("callbacks_chain_with_fd_2M", "ioloop_poll_every_iteration"),
    ("callbacks_batch_2M", "ioloop"),
    ("callbacks_batch_2M", "tokio"),
    ("callbacks_batch_2M", "calloop"),
    ("timers_insert_remove_1M", "ioloop"),
    ("timers_insert_remove_1M", "tokio_delayqueue"),
    ("timers_insert_remove_1M", "tokio_delayqueue_boxed"),
    ("timers_total_1M", "ioloop"),
    ("timers_total_1M", "tokio_delayqueue"),
    ("timers_total_1M", "tokio_delayqueue_boxed"),
    ("cross_thread_1M", "ioloop"),
    ("cross_thread_1M", "tokio_mpsc"),
    ("cross_thread_1M", "calloop_channel"),
    ("pingpong_100_pairs", "ioloop"),
    ("pingpong_100_pairs", "tokio"),
    ("pingpong_100_pairs", "calloop"),
];

/// The number of elements (callbacks, timeouts, round trips) one run of
/// `group` handles, or `None` for an unknown group.
pub fn elements(group: &str) -> Option<u64> {
    Some(match group {
        "callbacks_chain_2M" | "callbacks_chain_with_fd_2M" | "callbacks_batch_2M" => N_CALLBACKS,
        "timers_insert_remove_1M" | "timers_total_1M" => N_TIMERS as u64,
        "cross_thread_1M" => N_XTHREAD,
        "pingpong_100_pairs" => ROUND_TRIPS * PAIRS as u64,
        _ => return None,
    })
}

/// Runs one workload once and returns the time it took, measured as the
/// criterion benchmark measures it; `None` for a pair not in
/// [`WORKLOADS`].
pub fn run_once(group: &str, implementation: &str) -> Option<Duration> {
    let rt = || tokio_rt();
    let timed = |f: &dyn Fn()| {
        let t0 = Instant::now();
        f();
        t0.elapsed()
    };
    Some(match (group, implementation) {
        ("callbacks_chain_2M", "ioloop") => timed(&|| ioloop_chain(N_CALLBACKS, false)),
        ("callbacks_chain_2M", "ioloop_watchdog") => timed(&|| ioloop_chain(N_CALLBACKS, true)),
        ("callbacks_chain_2M", "tokio") => {
            let rt = rt();
            timed(&|| tokio_chain(&rt, N_CALLBACKS))
        }
        ("callbacks_chain_2M", "calloop") => timed(&|| calloop_chain(N_CALLBACKS)),
        ("callbacks_chain_with_fd_2M", "ioloop") => {
            timed(&|| ioloop_chain_with_fd(N_CALLBACKS, IOLoop::MAX_POLL_SKIPS))
        }
        ("callbacks_chain_with_fd_2M", "ioloop_poll_every_iteration") => {
            timed(&|| ioloop_chain_with_fd(N_CALLBACKS, 0))
        }
        ("callbacks_batch_2M", "ioloop") => timed(&|| ioloop_batch(N_CALLBACKS)),
        ("callbacks_batch_2M", "tokio") => {
            let rt = rt();
            timed(&|| tokio_batch(&rt, N_CALLBACKS))
        }
        ("callbacks_batch_2M", "calloop") => timed(&|| calloop_batch(N_CALLBACKS)),
        ("timers_insert_remove_1M", "ioloop") => {
            let (took, ioloop, _) = ioloop_timers_insert_remove(&timer_delays_us(N_TIMERS));
            ioloop.close(true).expect("close");
            took
        }
        ("timers_insert_remove_1M", "tokio_delayqueue") => {
            let delays = timer_delays_us(N_TIMERS);
            rt().block_on(async { delayqueue_insert_remove(&delays, || ()).0 })
        }
        ("timers_insert_remove_1M", "tokio_delayqueue_boxed") => {
            let delays = timer_delays_us(N_TIMERS);
            rt().block_on(async { delayqueue_insert_remove(&delays, boxed_callback).0 })
        }
        ("timers_total_1M", "ioloop") => ioloop_timers_total(&timer_delays_us(N_TIMERS)),
        ("timers_total_1M", "tokio_delayqueue") => {
            delayqueue_total(&rt(), &timer_delays_us(N_TIMERS), || (), drop)
        }
        ("timers_total_1M", "tokio_delayqueue_boxed") => {
            let mut count = 0;
            delayqueue_total(&rt(), &timer_delays_us(N_TIMERS), boxed_callback, |f| {
                f(&mut count)
            })
        }
        ("cross_thread_1M", "ioloop") => timed(&|| ioloop_cross_thread(N_XTHREAD)),
        ("cross_thread_1M", "tokio_mpsc") => {
            let rt = rt();
            timed(&|| tokio_cross_thread(&rt, N_XTHREAD))
        }
        ("cross_thread_1M", "calloop_channel") => timed(&|| calloop_cross_thread(N_XTHREAD)),
        ("pingpong_100_pairs", "ioloop") => timed(&|| ioloop_pingpong(ROUND_TRIPS)),
        ("pingpong_100_pairs", "tokio") => {
            let rt = rt();
            timed(&|| tokio_pingpong(&rt, ROUND_TRIPS))
        }
        ("pingpong_100_pairs", "calloop") => timed(&|| calloop_pingpong(ROUND_TRIPS)),
        _ => return None,
    })
}
