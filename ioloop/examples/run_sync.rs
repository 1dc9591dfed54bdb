//! A command-line tool on `run_sync`: concurrent tasks, timers, blocking
//! work on the executor, and a deadline, all from a synchronous `main`.
//!
//! ```text
//! cargo run -p ioloop --example run_sync
//! RUST_LOG=debug cargo run -p ioloop --example run_sync
//! ```

use std::time::Duration;

use ioloop::IOLoop;

/// Pretends to fetch something slow: a loop timer, not a blocked thread.
async fn fetch(name: &'static str, millis: u64) -> String {
    log::debug!("fetching {name}");
    ioloop::sleep(Duration::from_millis(millis)).await;
    format!("{name} ({millis} ms)")
}

fn main() {
    // Errors are printed for people (`Display`), not as `Debug` structures.
    if let Err(err) = try_main() {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

fn try_main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let ioloop = IOLoop::new()?;
    let report = ioloop.run_sync(
        || async {
            let l = IOLoop::current();
            // Three fetches run concurrently on the one loop thread.
            let tasks = [
                l.spawn(fetch("alpha", 30)),
                l.spawn(fetch("beta", 10)),
                l.spawn(fetch("gamma", 20)),
            ];
            // CPU-bound work goes to the executor's threads.
            let checksum = l
                .run_in_executor(|| (1..=1_000_000u64).fold(0u64, |a, b| a.wrapping_add(b * b)))
                .await?;
            let mut lines = Vec::new();
            for task in tasks {
                lines.push(task.await?);
            }
            // A slow step, cut short by a timeout.
            let late = ioloop::timeout(Duration::from_millis(50), fetch("delta", 5_000)).await;
            lines.push(match late {
                Ok(line) => line,
                Err(elapsed) => format!("delta gave up: {elapsed}"),
            });
            Ok::<_, ioloop::JoinError>(format!("{}\nchecksum {checksum}", lines.join("\n")))
        },
        Some(Duration::from_secs(10)),
    )??;
    println!("{report}");
    Ok(())
}
