//! Turning captured return addresses into [`StackFrame`]s, on the watchdog
//! thread (symbolisation allocates, locks and parses debug information:
//! never in signal context).

use crate::watchdog::report::StackFrame;

/// Loads the symbol tables a report needs first (this binary's and the C
/// library's), so the first report is not delayed by it. Called when the
/// watchdog thread starts.
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

/// Resolves `ips` (innermost first) to frames, one per function (inlined
/// calls included), and drops the capture's own frames.
pub(crate) fn symbolize(ips: &[usize]) -> Vec<StackFrame> {
    let mut frames = Vec::with_capacity(ips.len());
    // The unwinder may end with a null address, past the outermost frame.
    for &ip in ips.iter().filter(|&&ip| ip != 0) {
        let before = frames.len();
        backtrace::resolve(std::ptr::without_provenance_mut(ip), |symbol| {
            frames.push(StackFrame {
                ip,
                // `{:#}` leaves out the hash suffix.
                name: symbol.name().map(|name| format!("{name:#}")),
                file: symbol.filename().map(|file| file.to_path_buf()),
                line: symbol.lineno(),
            });
        });
        if frames.len() == before {
            frames.push(StackFrame {
                ip,
                name: None,
                file: None,
                line: None,
            });
        }
    }
    without_signal_frames(frames)
}

/// The frames below the signal: a capture starts in the unwinder, the
/// signal action and signal-hook's handler, then the kernel's signal
/// trampoline (`__restore_rt`), and only then reaches the function the
/// loop thread was running. Those first frames are dropped. If signal-hook's
/// handler cannot be found by name (a stripped binary), nothing is dropped.
fn without_signal_frames(frames: Vec<StackFrame>) -> Vec<StackFrame> {
    let is_handler = |f: &StackFrame| {
        f.name
            .as_deref()
            .is_some_and(|name| name.starts_with("signal_hook_registry::handler"))
    };
    let Some(handler) = frames.iter().rposition(is_handler) else {
        return frames;
    };
    // The handler's return address is in the trampoline; the next address
    // is the interrupted function.
    let next_ip = |from: usize| {
        let ip = frames[from].ip;
        (from..frames.len()).find(|&i| frames[i].ip != ip)
    };
    match next_ip(handler).and_then(next_ip) {
        Some(interrupted) => frames.into_iter().skip(interrupted).collect(),
        None => frames,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ip: usize, name: &str) -> StackFrame {
        StackFrame {
            ip,
            name: Some(name.to_owned()),
            file: None,
            line: None,
        }
    }

    #[test]
    fn the_capture_frames_and_the_trampoline_are_dropped() {
        let frames = vec![
            frame(1, "backtrace::backtrace::trace_unsynchronized"),
            frame(2, "ioloop::sys::linux::on_capture_signal"),
            frame(3, "ioloop::sys::linux::register_stack_capture::{{closure}}"),
            frame(3, "signal_hook_registry::handler"),
            frame(4, "__restore_rt"),
            frame(5, "app::busy"),
            frame(5, "app::inlined_into_busy"),
            frame(6, "app::main"),
        ];
        let kept: Vec<_> = without_signal_frames(frames)
            .into_iter()
            .map(|f| f.name.unwrap())
            .collect();
        assert_eq!(kept, ["app::busy", "app::inlined_into_busy", "app::main"]);
    }

    #[test]
    fn without_a_known_handler_frame_nothing_is_dropped() {
        let frames = vec![frame(1, "a"), frame(2, "b")];
        assert_eq!(without_signal_frames(frames).len(), 2);
        let frames = vec![frame(1, "signal_hook_registry::handler"), frame(2, "x")];
        assert_eq!(without_signal_frames(frames).len(), 2, "nothing after it");
    }

    #[test]
    fn this_functions_own_address_resolves_to_its_name() {
        let ip = (this_functions_own_address_resolves_to_its_name as *const ()).addr();
        let frames = symbolize(&[ip + 1]);
        assert!(
            frames.iter().any(|f| f
                .name()
                .is_some_and(|n| n.contains("this_functions_own_address_resolves_to_its_name"))),
            "{frames:?}"
        );
    }
}
