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

/// Resolves `ips` (innermost first: the interrupted instruction, then
/// return addresses) to frames, one per function (inlined calls
/// included).
pub(crate) fn symbolize(ips: &[usize]) -> Vec<StackFrame> {
    let mut frames = Vec::with_capacity(ips.len());
    for (i, &ip) in ips.iter().enumerate() {
        // `resolve` looks up the address before the one it is given, the
        // call instruction of a return address; the innermost frame's
        // address is the interrupted instruction itself.
        let lookup = if i == 0 { ip.wrapping_add(1) } else { ip };
        let before = frames.len();
        backtrace::resolve(std::ptr::without_provenance_mut(lookup), |symbol| {
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
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn a_function_of_its_own() {
        std::hint::black_box(());
    }

    #[test]
    fn an_interrupted_instruction_resolves_to_its_own_function() {
        // The first instruction of a function: the address before it
        // belongs to another function.
        let ip = (a_function_of_its_own as fn()) as usize;
        let frames = symbolize(&[ip]);
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
        let frames = symbolize(&[0x10, ip + 1]);
        assert!(
            frames
                .last()
                .and_then(StackFrame::name)
                .is_some_and(|n| n.contains("a_return_address_resolves_to_its_caller")),
            "{frames:?}"
        );
    }
}
