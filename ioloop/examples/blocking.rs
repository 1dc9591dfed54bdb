//! The blocking watchdog: a callback blocks the loop for 500 ms, and the
//! watchdog reports it after about 100 ms, while it still runs, with the
//! loop thread's stack.
//!
//! ```text
//! RUST_LOG=warn cargo run -p ioloop --example blocking
//! ```
//!
//! Each warning is logged at once, with the stack as raw frames
//! (`blocking+0x1a2b3`); as the callback keeps running, it is reported
//! again at about 200 and 400 ms. The symbolised stack, which names
//! `busy_wait_in_callback` where the loop is stuck, follows in a second
//! record with the same `[blocked callback N, report M]` tag: in a debug
//! build, reading the debug information first takes a second or more, so
//! block longer to see it (the argument is in milliseconds):
//!
//! ```text
//! RUST_LOG=warn cargo run -p ioloop --example blocking -- 3000
//! ```
//!
//! With `RUST_LOG=info`, a last record says when the callback returned.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ioloop::IOLoop;

/// Burns the CPU for `how_long`: the kind of work that must not run on a
/// loop thread. Not inlined, so the stack shows it even in release builds.
#[inline(never)]
fn busy_wait_in_callback(how_long: Duration) {
    let start = Instant::now();
    let mut spins = 0u64;
    while start.elapsed() < how_long {
        spins = black_box(spins + 1);
    }
}

fn main() {
    // Errors are printed for people (`Display`), not as `Debug` structures.
    if let Err(err) = try_main() {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

fn try_main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let block = match std::env::args().nth(1) {
        Some(ms) => Duration::from_millis(ms.parse()?),
        None => Duration::from_millis(500),
    };
    let ioloop = IOLoop::new()?;
    ioloop.set_blocking_log_threshold(Some(Duration::from_millis(100)))?;
    println!(
        "blocking the loop for {} ms under a 100 ms watchdog threshold...",
        block.as_millis()
    );
    let l = ioloop.clone();
    ioloop.add_callback(move || {
        busy_wait_in_callback(block);
        // Run on a little, so the watchdog sees the callback return.
        let stop = l.clone();
        l.call_later(Duration::from_millis(100), move || stop.stop());
    });
    ioloop.start()?;
    println!("done");
    Ok(())
}
