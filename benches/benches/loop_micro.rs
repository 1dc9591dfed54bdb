//! Loop micro-benchmarks: the workloads of `shared/peers` (callbacks chain
//! and batch, 1M timers, cross-thread callbacks, fd ping-pong) on our loop.
//!
//! ```text
//! cargo bench -p benches --bench loop_micro
//! cargo bench -p benches --bench loop_micro -- callbacks   # one group
//! ```
//!
//! Every workload builds a fresh loop per sample; criterion reports the
//! time per sample and the throughput in elements (callbacks, timers, round
//! trips) per second.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ioloop::{Events, IOLoop, MakeCurrent, TimeoutHandle};

const N_CALLBACKS: u64 = 2_000_000;
const N_TIMERS: usize = 1_000_000;
const N_XTHREAD: u64 = 1_000_000;
const PAIRS: usize = 100;
const ROUND_TRIPS: u64 = 1_000;

fn new_loop() -> IOLoop {
    IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .expect("loop")
}

/// The peers' timer delays: xorshift64*, fixed seed, 0..1000 ms in µs.
fn timer_delays_us(n: usize) -> Vec<u64> {
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

/// Each callback adds the next: one callback per loop iteration. With
/// `watchdog`, the blocking watchdog watches the loop (1 s threshold), so
/// every callback is published to it.
fn callbacks_chain(n: u64, watchdog: bool) {
    fn step(ioloop: IOLoop, left: u64) {
        if left == 0 {
            ioloop.stop();
        } else {
            let l = ioloop.clone();
            ioloop.add_callback(move || step(l, left - 1));
        }
    }
    let ioloop = new_loop();
    if watchdog {
        ioloop
            .set_blocking_log_threshold(Some(Duration::from_secs(1)))
            .unwrap();
    }
    let l = ioloop.clone();
    ioloop.add_callback(move || step(l, n));
    ioloop.start().unwrap();
    ioloop.close(true).unwrap();
}

/// All callbacks queued first, then run.
fn callbacks_batch(n: u64) {
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

/// Inserts every timer and removes every odd one; returns the time that
/// took, and the loop with the rest pending.
fn timers_insert_remove(delays: &[u64]) -> (Duration, IOLoop, Rc<Cell<u64>>) {
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

/// A second thread posts `n` callbacks; returns when the loop ran them all.
fn cross_thread(n: u64) {
    let ioloop = new_loop();
    let remote = ioloop.remote();
    let count = Arc::new(AtomicU64::new(0));
    let sender = std::thread::spawn(move || {
        for i in 0..n {
            let count = count.clone();
            remote.add_callback(move || {
                if count.fetch_add(1, Ordering::Relaxed) + 1 == n {
                    IOLoop::current().stop();
                }
                std::hint::black_box(i);
            });
        }
    });
    ioloop.start().unwrap();
    sender.join().unwrap();
    ioloop.close(true).unwrap();
}

/// `PAIRS` socket pairs; the initiator writes one byte, the echo side reads
/// it and writes it back, `rounds` times per pair, all pairs at once, on raw
/// level-triggered handlers (no drained hints).
fn pingpong(rounds: u64) {
    let ioloop = new_loop();
    let done = Rc::new(Cell::new(0usize));
    let mut keep = Vec::new();
    for _ in 0..PAIRS {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
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
    ioloop.close(true).unwrap();
    drop(keep);
}

fn callbacks(c: &mut Criterion) {
    let mut group = c.benchmark_group("callbacks");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N_CALLBACKS));
    group.bench_function("chain_2M/ioloop", |b| {
        b.iter(|| callbacks_chain(N_CALLBACKS, false))
    });
    group.bench_function("chain_2M/ioloop_watchdog", |b| {
        b.iter(|| callbacks_chain(N_CALLBACKS, true))
    });
    group.bench_function("batch_2M/ioloop", |b| {
        b.iter(|| callbacks_batch(N_CALLBACKS))
    });
    group.finish();
}

fn timers(c: &mut Criterion) {
    let delays = timer_delays_us(N_TIMERS);
    let mut group = c.benchmark_group("timers");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N_TIMERS as u64));
    group.bench_function("insert_remove_1M/ioloop", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (took, ioloop, _) = timers_insert_remove(&delays);
                total += took;
                ioloop.close(true).unwrap();
            }
            total
        })
    });
    group.bench_function("total_1M/ioloop", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t0 = Instant::now();
                let (_, ioloop, fired) = timers_insert_remove(&delays);
                let (f, l) = (fired.clone(), ioloop.clone());
                // Stop once the last surviving timer fired.
                let target = (N_TIMERS - N_TIMERS / 2) as u64;
                fn check(l: IOLoop, f: Rc<Cell<u64>>, target: u64) {
                    if f.get() == target {
                        l.stop();
                    } else {
                        let l2 = l.clone();
                        l.call_later(Duration::from_millis(1), move || check(l2, f, target));
                    }
                }
                ioloop.call_later(Duration::from_millis(1), move || check(l, f, target));
                ioloop.start().unwrap();
                total += t0.elapsed();
                assert_eq!(fired.get(), target);
                ioloop.close(true).unwrap();
            }
            total
        })
    });
    group.finish();
}

fn threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("cross_thread");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N_XTHREAD));
    group.bench_function("add_callback_1M/ioloop", |b| {
        b.iter(|| cross_thread(N_XTHREAD))
    });
    group.finish();
}

fn io(c: &mut Criterion) {
    let mut group = c.benchmark_group("pingpong");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROUND_TRIPS * PAIRS as u64));
    group.bench_function("100_pairs/ioloop", |b| b.iter(|| pingpong(ROUND_TRIPS)));
    group.finish();
}

criterion_group!(benches, callbacks, timers, threads, io);
criterion_main!(benches);
