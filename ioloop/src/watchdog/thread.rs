//! The watchdog thread: one per process, started by the first loop that
//! enables the watchdog, serving every loop that has it enabled.
//!
//! Loops register a [`Watch`] in the registry; the thread keeps its own
//! per-loop sampling state ([`Watched`]) and wakes when the earliest loop
//! is due for a look (every quarter of its threshold) or the registry
//! changes. Stack captures and actions run outside the registry's lock,
//! so a loop thread enabling or disabling its watchdog never waits for a
//! report to be written; symbolisation and custom actions run on a thread
//! of their own ([`Symbolizer`]), so the looks never wait for them.
//!
//! The registry is per process: a child made by `fork` gets a new, empty
//! one (and a thread of its own once a loop enables the watchdog there),
//! never its parent's, whose lock another thread may have held at the
//! fork.
//!
//! Before asking a loop thread for its stack, the thread gives the loop's
//! walk the unwind tables of the objects loaded now ([`Tables`], rebuilt
//! by a helper thread only when objects were loaded or unloaded).

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use libc::c_int;

use crate::signals::signal_name;
use crate::sys::{self, PerProcess, Tid};
use crate::watchdog::LOG_TARGET;
use crate::watchdog::action::BlockingAction;
use crate::watchdog::report::{BlockingReport, StackCapture, StackFrame};
use crate::watchdog::slot::{Captured, RunningCallback, WatchdogSlot};
use crate::watchdog::symbolize::Symbolizer;
use crate::watchdog::tables::Tables;

/// How long the watchdog waits for the loop thread to take a capture
/// request (signal delivery needs the thread to be scheduled).
const DELIVER_WITHIN: Duration = Duration::from_millis(250);
/// How long, once taken, the capture may take before the watchdog stops
/// waiting for it (a walk of 128 frames takes microseconds: only a loop
/// thread descheduled or stopped in the middle of it takes longer).
const FINISH_WITHIN: Duration = Duration::from_secs(2);
/// The shortest sampling period.
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// One loop's watchdog settings, registered by its thread.
#[derive(Clone)]
pub(crate) struct Watch {
    pub(crate) slot: Arc<WatchdogSlot>,
    pub(crate) threshold: Duration,
    pub(crate) action: BlockingAction,
    pub(crate) thread_name: Option<String>,
    pub(crate) tid: Option<Tid>,
    /// The stack capture signal, or why this loop's reports have no stack.
    pub(crate) capture: Result<c_int, String>,
}

struct Registry {
    watches: Vec<Watch>,
    /// Bumped on every change, so the thread knows to re-read `watches`.
    generation: u64,
    /// Whether this process's watchdog thread was started.
    started: bool,
}

/// This process's registry, the condition its thread waits on, and its
/// unwind tables.
struct ProcessWatchdog {
    registry: Mutex<Registry>,
    changed: Condvar,
    tables: Tables,
}

static PROCESS_WATCHDOG: PerProcess<ProcessWatchdog> = PerProcess::new(|| ProcessWatchdog {
    registry: Mutex::new(Registry {
        watches: Vec::new(),
        generation: 0,
        started: false,
    }),
    changed: Condvar::new(),
    tables: Tables::new(),
});

fn registry(watchdog: &ProcessWatchdog) -> MutexGuard<'_, Registry> {
    // No user code runs under this lock; a poisoned one is still consistent.
    watchdog
        .registry
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Starts (or updates) watching a loop, starting the watchdog thread on
/// first use.
pub(crate) fn watch(watch: Watch) -> io::Result<()> {
    let watchdog = PROCESS_WATCHDOG.get();
    let mut registry = registry(watchdog);
    if !registry.started {
        thread::Builder::new()
            .name("ioloop-watchdog".to_owned())
            .spawn(move || run(watchdog))?;
        registry.started = true;
    }
    registry
        .watches
        .retain(|w| !Arc::ptr_eq(&w.slot, &watch.slot));
    registry.watches.push(watch);
    registry.generation += 1;
    watchdog.changed.notify_all();
    Ok(())
}

/// Stops watching a loop. A report under way for it is dropped.
pub(crate) fn unwatch(slot: &Arc<WatchdogSlot>) {
    let watchdog = PROCESS_WATCHDOG.get();
    let mut registry = registry(watchdog);
    registry.watches.retain(|w| !Arc::ptr_eq(&w.slot, slot));
    registry.generation += 1;
    watchdog.changed.notify_all();
}

fn is_watched(slot: &Arc<WatchdogSlot>) -> bool {
    registry(PROCESS_WATCHDOG.get())
        .watches
        .iter()
        .any(|w| Arc::ptr_eq(&w.slot, slot))
}

/// The watchdog thread's view of one loop.
struct Watched {
    watch: Watch,
    period: Duration,
    next_look: Instant,
    /// The sequence number seen at the last look.
    seen: u64,
    /// What ran as `seen`, read when it was first seen.
    ///
    /// A snapshot can be torn: the loop publishes a callback's site before
    /// its sequence number, so a read made just as callback `n` ends can
    /// pair `n` with the next callback's site. That happens only if `n`
    /// ended during the read, in which case no later look sees `n` and
    /// nothing is reported about it; so the snapshot of a first sighting
    /// is right whenever a report uses it, while one taken at the report's
    /// own look need not be.
    first_read: Option<RunningCallback>,
    /// When `seen` was first seen running.
    first_seen: Instant,
    /// The last look that found `seen` still running.
    last_running: Instant,
    /// Reports made about `seen`.
    reports: u32,
    /// How long `seen` must have run for the next report: the threshold,
    /// then twice the running time at the previous report.
    next_due: Duration,
    /// What was reported about, to say when it returns.
    reported: Option<RunningCallback>,
}

impl Watched {
    fn new(watch: Watch, now: Instant) -> Watched {
        let first_read = watch.slot.running();
        let seen = first_read.map_or_else(|| watch.slot.seq(), |run| run.seq);
        let mut watched = Watched {
            period: Duration::ZERO,
            next_look: now,
            seen,
            first_read,
            first_seen: now,
            last_running: now,
            reports: 0,
            next_due: watch.threshold,
            reported: None,
            watch,
        };
        watched.update(None, now);
        watched
    }

    /// Takes new settings (a new threshold or action), keeping what was
    /// seen.
    fn update(&mut self, watch: Option<Watch>, now: Instant) {
        if let Some(watch) = watch {
            self.watch = watch;
        }
        if self.reports == 0 {
            self.next_due = self.watch.threshold;
        }
        self.period = (self.watch.threshold / 4).max(MIN_PERIOD);
        self.next_look = self.next_look.min(now + self.period);
    }

    /// One look at the loop: returns what to report, if anything.
    fn look(&mut self, now: Instant) -> Option<(RunningCallback, Duration, u32)> {
        self.next_look = now + self.period;
        let running = self.watch.slot.running();
        if let Some(latest) = running.filter(|run| run.seq == self.seen) {
            let run = self.first_read.unwrap_or(latest);
            self.last_running = now;
            let blocked = now.saturating_duration_since(self.first_seen);
            if blocked < self.next_due {
                return None;
            }
            // Again each time the running time doubles: a few reports,
            // never a flood, even after a look delayed by a slow report.
            self.next_due = blocked.saturating_mul(2);
            self.reports += 1;
            self.reported = Some(run);
            return Some((run, blocked, self.reports));
        }
        if let Some(done) = self.reported.take() {
            log::info!(
                target: LOG_TARGET,
                "ioloop no longer blocked by the {} registered at {}: it ran for at least {} ms",
                done.kind.map_or_else(|| "code".to_owned(), |k| k.to_string()),
                done.site,
                self.last_running.saturating_duration_since(self.first_seen).as_millis(),
            );
        }
        self.seen = running.map_or_else(|| self.watch.slot.seq(), |run| run.seq);
        self.first_read = running;
        self.first_seen = now;
        self.last_running = now;
        self.reports = 0;
        self.next_due = self.watch.threshold;
        None
    }

    /// Captures the stack, builds the report and runs the action.
    fn report(
        &self,
        run: RunningCallback,
        blocked: Duration,
        number: u32,
        tables: &Tables,
        symbols: &Symbolizer,
    ) {
        let stack = capture(&self.watch, run.seq, tables);
        let report = BlockingReport {
            blocked_for: blocked,
            threshold: self.watch.threshold,
            number,
            callback: run.seq,
            symbolized: matches!(stack, StackCapture::Unavailable(_)),
            kind: run.kind,
            site: run.site,
            thread_name: self.watch.thread_name.clone(),
            thread_id: self.watch.tid.map(i64::from),
            stack,
        };
        if !is_watched(&self.watch.slot) {
            return; // disabled while the report was being made
        }
        let slot = self.watch.slot.clone();
        self.watch
            .action
            .run(report, symbols, Box::new(move || is_watched(&slot)));
    }
}

/// Asks the loop thread for its stack while it runs callback `seq`.
fn capture(watch: &Watch, seq: u64, tables: &Tables) -> StackCapture {
    let signal = match &watch.capture {
        Ok(signal) => *signal,
        Err(reason) => return StackCapture::Unavailable(reason.clone()),
    };
    let Some(tid) = watch.tid else {
        return StackCapture::Unavailable("the loop thread has no thread id".to_owned());
    };
    let still_under_way = || {
        StackCapture::Unavailable(format!(
            "the previous stack capture on the loop thread has not finished (it was given up \
             on after {} s); the next report tries again",
            FINISH_WITHIN.as_secs()
        ))
    };
    let Some(modules) = tables.fresh() else {
        return StackCapture::Unavailable(
            "the unwind tables of the loaded objects are not ready yet".to_owned(),
        );
    };
    if !watch.slot.prepare(&modules) {
        return still_under_way();
    }
    let Some(ticket) = watch.slot.request(seq) else {
        return still_under_way();
    };
    if let Err(err) = sys::signal_thread(tid, signal)
        && watch.slot.withdraw(ticket)
    {
        return StackCapture::Unavailable(format!(
            "could not send {} to the loop thread: {err}",
            signal_name(signal)
        ));
    }
    match watch.slot.collect(ticket, DELIVER_WITHIN, FINISH_WITHIN) {
        Captured::Frames(ips) => StackCapture::Captured(raw_frames(&ips, &modules)),
        Captured::Stale => StackCapture::Unavailable(
            "the callback returned before its stack was captured".to_owned(),
        ),
        Captured::NotDelivered => StackCapture::Unavailable(format!(
            "the loop thread did not handle {} within {} ms (blocked on that thread, or not scheduled)",
            signal_name(signal),
            DELIVER_WITHIN.as_millis()
        )),
        Captured::Skipped(why) => StackCapture::Unavailable(why.reason().to_owned()),
        Captured::Unfinished => StackCapture::Unavailable(format!(
            "the loop thread began its stack capture but did not finish it within {} s \
             (descheduled or stopped meanwhile?); the next report tries again",
            FINISH_WITHIN.as_secs()
        )),
    }
}

/// The captured addresses as frames, each with the object it is in: all a
/// report needs before symbolisation.
fn raw_frames(ips: &[usize], modules: &sys::Modules) -> Vec<StackFrame> {
    ips.iter()
        .map(|&ip| StackFrame {
            ip,
            object: modules.locate(ip).map(|(name, offset)| {
                // The program itself has no name in the loader's list.
                let name = if name.is_empty() { program() } else { name };
                (name, offset)
            }),
            name: None,
            file: None,
            line: None,
        })
        .collect()
}

/// The program's path, for its frames.
fn program() -> Arc<str> {
    static PROGRAM: OnceLock<Arc<str>> = OnceLock::new();
    PROGRAM
        .get_or_init(|| match std::env::current_exe() {
            Ok(path) => Arc::from(path.to_string_lossy().as_ref()),
            Err(_) => Arc::from("<program>"),
        })
        .clone()
}

/// The watchdog thread's body, serving the loops of `watchdog`.
fn run(watchdog: &'static ProcessWatchdog) {
    // Loads the symbol tables at once, so that later reports are quickly
    // symbolised; reports are logged without waiting for it.
    let symbols = Symbolizer::start();
    let mut watched: Vec<Watched> = Vec::new();
    if sys::STACK_CAPTURE {
        watchdog.tables.start();
    }
    let mut generation = u64::MAX;
    loop {
        {
            let mut registry = registry(watchdog);
            loop {
                let now = Instant::now();
                if registry.generation != generation {
                    generation = registry.generation;
                    sync(&mut watched, &registry.watches, now);
                }
                let Some(next) = watched.iter().map(|w| w.next_look).min() else {
                    registry = watchdog
                        .changed
                        .wait(registry)
                        .unwrap_or_else(PoisonError::into_inner);
                    continue;
                };
                if next <= now {
                    break;
                }
                registry = watchdog
                    .changed
                    .wait_timeout(registry, next - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        for w in &mut watched {
            // Read the clock for each loop: a report before may have taken a while.
            let now = Instant::now();
            if w.next_look > now {
                continue;
            }
            if let Some((run, blocked, number)) = w.look(now) {
                // A bug here must not end the watchdog for every loop.
                let reported = panic::catch_unwind(AssertUnwindSafe(|| {
                    w.report(run, blocked, number, &watchdog.tables, &symbols)
                }));
                if reported.is_err() {
                    log::error!(target: LOG_TARGET, "the blocking watchdog failed to report a blocked loop");
                }
            }
        }
    }
}

/// Brings the thread's view in line with the registry: new loops are
/// added, removed ones dropped, changed settings taken, sampling state
/// kept.
fn sync(watched: &mut Vec<Watched>, watches: &[Watch], now: Instant) {
    watched.retain(|w| watches.iter().any(|n| Arc::ptr_eq(&n.slot, &w.watch.slot)));
    for watch in watches {
        match watched
            .iter_mut()
            .find(|w| Arc::ptr_eq(&w.watch.slot, &watch.slot))
        {
            Some(w) => w.update(Some(watch.clone()), now),
            None => watched.push(Watched::new(watch.clone(), now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::panic::Location;

    use super::*;
    use crate::core::exception::CallbackKind;

    fn watched(slot: &Arc<WatchdogSlot>, threshold: Duration, now: Instant) -> Watched {
        let watch = Watch {
            slot: slot.clone(),
            threshold,
            action: BlockingAction::Log,
            thread_name: None,
            tid: None,
            capture: Err("test".to_owned()),
        };
        Watched::new(watch, now)
    }

    #[test]
    fn reports_at_the_threshold_then_each_time_the_running_time_doubles() {
        let slot = Arc::new(WatchdogSlot::new());
        let t = Duration::from_millis(100);
        let start = Instant::now();
        slot.begin(CallbackKind::Callback, Location::caller());
        let mut w = watched(&slot, t, start);
        let mut reports = Vec::new();
        for ms in (0..=1000).step_by(25) {
            if let Some((_, blocked, number)) = w.look(start + Duration::from_millis(ms)) {
                reports.push((blocked.as_millis(), number));
            }
        }
        assert_eq!(reports, [(100, 1), (200, 2), (400, 3), (800, 4)]);
        // Idle: not reported, and the next callback starts afresh.
        slot.idle();
        assert!(w.look(start + Duration::from_secs(2)).is_none());
        slot.begin(CallbackKind::Timeout, Location::caller());
        assert!(w.look(start + Duration::from_millis(2050)).is_none());
        let (run, blocked, number) = w.look(start + Duration::from_millis(2150)).unwrap();
        assert_eq!((blocked.as_millis(), number), (100, 1));
        assert_eq!(run.kind, Some(CallbackKind::Timeout));
    }

    #[test]
    fn a_report_names_the_site_read_at_the_first_sighting() {
        let slot = Arc::new(WatchdogSlot::new());
        let t = Duration::from_millis(100);
        let start = Instant::now();
        let first = Location::caller();
        slot.begin(CallbackKind::Callback, first);
        let mut w = watched(&slot, t, start);
        // A later read finds another site under the same sequence number
        // (as one torn between `begin`'s two stores would).
        slot.store_site_only(Location::caller());
        let (run, _, _) = w.look(start + t).expect("reported");
        assert!(std::ptr::eq(run.site, first));
    }
}
