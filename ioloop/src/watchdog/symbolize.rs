//! Giving a captured stack's [`StackFrame`]s their function names, files
//! and lines, on the watchdog's symbolisation thread (symbolisation
//! allocates, locks and parses debug information: never in signal
//! context, and never on the thread that looks at the loops, since the
//! first time it can take a second or more in a large debug build).

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::mpsc::{self, Sender, SyncSender};
use std::thread;

use crate::watchdog::LOG_TARGET;
use crate::watchdog::report::{BlockingReport, StackCapture, StackFrame};

/// What to do with a report once its stack is symbolised.
pub(crate) enum Then {
    /// Log the symbolised stack as the report's second record.
    Log,
    /// Send the symbolised report back (to an abort that waits for it).
    Reply(SyncSender<BlockingReport>),
    /// Call a custom action with the symbolised report, if its loop is
    /// still watched (the function says).
    Call(
        Arc<dyn Fn(&BlockingReport) + Send + Sync>,
        Box<dyn Fn() -> bool + Send>,
    ),
}

/// A report to symbolise, and what to do with it then.
pub(crate) struct Job {
    pub(crate) report: BlockingReport,
    pub(crate) then: Then,
}

/// The watchdog's symbolisation thread: takes jobs in order, one at a
/// time, so the watchdog thread's looks at the loops never wait for debug
/// information to be parsed.
pub(crate) struct Symbolizer {
    /// `None` if the thread could not be started: jobs are then done on
    /// the caller's thread.
    jobs: Option<Sender<Job>>,
}

impl Symbolizer {
    /// Starts the thread, which first loads the symbol tables a report
    /// needs first ([`warm`]).
    pub(crate) fn start() -> Symbolizer {
        let (tx, rx) = mpsc::channel::<Job>();
        let started = thread::Builder::new()
            .name("ioloop-watchdog-symbols".to_owned())
            .spawn(move || {
                warm();
                for job in rx {
                    finish(job);
                }
            });
        match started {
            Ok(_) => Symbolizer { jobs: Some(tx) },
            Err(err) => {
                log::debug!(
                    target: LOG_TARGET,
                    "no symbolisation thread ({err}): stacks are symbolised on the watchdog thread"
                );
                Symbolizer { jobs: None }
            }
        }
    }

    /// Queues `job` behind those submitted before it.
    pub(crate) fn submit(&self, job: Job) {
        let job = match &self.jobs {
            Some(jobs) => match jobs.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        finish(job);
    }
}

/// Symbolises the job's stack, if not yet done, and does what it says.
fn finish(job: Job) {
    let Job { mut report, then } = job;
    if !report.symbolized {
        if let StackCapture::Captured(frames) = &report.stack {
            report.stack = StackCapture::Captured(symbolize(frames));
        }
        report.symbolized = true;
    }
    match then {
        Then::Log => log::warn!(target: LOG_TARGET, "{}", report.symbolized_stack()),
        Then::Reply(reply) => {
            let _ = reply.try_send(report);
        }
        Then::Call(action, still_watched) => {
            if !still_watched() {
                return; // disabled meanwhile
            }
            if panic::catch_unwind(AssertUnwindSafe(|| action(&report))).is_err() {
                log::error!(
                    target: LOG_TARGET,
                    "the blocking watchdog's action panicked; the report was: {report}"
                );
            }
        }
    }
}

/// Loads the symbol tables a report needs first (this binary's and the C
/// library's), so that the first symbolised stack comes sooner. Called
/// when the symbolisation thread starts.
pub(crate) fn warm() {
    let ours = (warm as fn()) as *const ();
    let libc = (libc::getpid as unsafe extern "C" fn() -> libc::pid_t) as *const ();
    for address in [ours, libc] {
        backtrace::resolve(address.cast_mut().cast(), |symbol| {
            std::hint::black_box(symbol.name());
            std::hint::black_box(symbol.lineno());
        });
    }
}

/// Resolves `raw` (innermost first: the interrupted instruction, then
/// return addresses) to frames, one per function (inlined calls included,
/// with their caller's address and object).
pub(crate) fn symbolize(raw: &[StackFrame]) -> Vec<StackFrame> {
    let mut frames = Vec::with_capacity(raw.len());
    for (i, frame) in raw.iter().enumerate() {
        // `resolve` looks up the address before the one it is given, the
        // call instruction of a return address; the innermost frame's
        // address is the interrupted instruction itself.
        let lookup = if i == 0 {
            frame.ip.wrapping_add(1)
        } else {
            frame.ip
        };
        let before = frames.len();
        backtrace::resolve(std::ptr::without_provenance_mut(lookup), |symbol| {
            frames.push(StackFrame {
                // `{:#}` leaves out the hash suffix.
                name: symbol.name().map(|name| format!("{name:#}")),
                file: symbol.filename().map(|file| file.to_path_buf()),
                line: symbol.lineno(),
                ..frame.clone()
            });
        });
        if frames.len() == before {
            frames.push(frame.clone());
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(ip: usize) -> StackFrame {
        StackFrame {
            ip,
            object: None,
            name: None,
            file: None,
            line: None,
        }
    }

    #[inline(never)]
    fn a_function_of_its_own() {
        std::hint::black_box(());
    }

    #[test]
    fn an_interrupted_instruction_resolves_to_its_own_function() {
        // The first instruction of a function: the address before it
        // belongs to another function.
        let ip = (a_function_of_its_own as fn()) as usize;
        let frames = symbolize(&[raw(ip)]);
        assert!(
            frames[0]
                .name()
                .is_some_and(|n| n.contains("a_function_of_its_own")),
            "{frames:?}"
        );
    }

    #[test]
    fn a_return_address_resolves_to_its_caller() {
        let ip = (a_return_address_resolves_to_its_caller as fn()) as usize;
        // As a return address (not the innermost frame), `ip + 1` is looked
        // up at `ip`.
        let frames = symbolize(&[raw(0x10), raw(ip + 1)]);
        assert!(
            frames
                .last()
                .and_then(StackFrame::name)
                .is_some_and(|n| n.contains("a_return_address_resolves_to_its_caller")),
            "{frames:?}"
        );
    }
}
