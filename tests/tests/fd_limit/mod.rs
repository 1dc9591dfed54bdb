//! The process's descriptor limit, for the test binaries that run out of
//! descriptors on purpose (each a binary of its own: the limit is
//! process-wide).

/// Lowers the soft descriptor limit to `limit`.
pub(crate) fn set_fd_limit(limit: u64) {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct given.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl), 0);
        rl.rlim_cur = limit;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &rl), 0);
    }
}

/// The descriptor limit that leaves exactly `free` descriptors to open:
/// new descriptors take the lowest free numbers, so the limit sits just
/// above the `free`-th unused number.
pub(crate) fn limit_leaving(free: u64) -> u64 {
    let open: std::collections::HashSet<u64> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .collect();
    let mut left = free;
    let mut n = 0;
    loop {
        if !open.contains(&n) {
            left -= 1;
            if left == 0 {
                return n + 1;
            }
        }
        n += 1;
    }
}
