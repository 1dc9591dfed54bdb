//! Linux: the blocking watchdog's stack walk, made to run in a signal
//! handler that may interrupt the loop thread anywhere: inside the C
//! library's allocator or loader, inside libgcc's unwinder while it holds
//! its lock, in code whose unwind tables are being unloaded.
//!
//! The walk takes no lock, allocates nothing, calls nothing of the C
//! library, and cannot fault:
//!
//! * **Unwind tables are prepared ahead, on the watchdog thread.**
//!   [`Modules::load`] lists the loaded objects with `dl_iterate_phdr`
//!   and copies each one's `.eh_frame_hdr` and `.eh_frame` into owned
//!   buffers, so a `dlclose` while a walk runs cannot unmap what the walk
//!   reads. The handler only looks them up (the `framehop` crate's
//!   unwinder, with its `MustNotAllocateDuringUnwind` policy and a cache
//!   allocated beforehand). libgcc is never called, so its locks (taken
//!   once anything registered unwind information with `__register_frame`)
//!   and its state in the middle of a panic's unwinding do not matter.
//! * **Every memory read is bounded to the loop thread's stack.** The
//!   interrupted registers come from the signal frame the kernel pushed on
//!   that stack; the walk reads words between the interrupted stack
//!   pointer and the top of the stack (taken on the loop thread with
//!   `pthread_getattr_np` when the watchdog is enabled), which are mapped
//!   for as long as the thread runs. A read outside them ends the walk.
//! * **A frame outside every known object ends the walk** (code generated
//!   at run time, or loaded after the tables were prepared): its address
//!   is recorded, its caller is not looked for.
//!
//! The walk is implemented for x86_64; elsewhere [`walk`] answers
//! [`Skipped::Unsupported`].

use std::ops::Range;
use std::sync::Arc;

use crate::watchdog::slot::Skipped;

/// The interrupted thread's stack, as bounds: `start` is the lowest
/// address of the thread's stack, `end` one past the highest.
pub(crate) type StackBounds = Range<usize>;

/// The calling thread's stack bounds, from `pthread_getattr_np` (for the
/// main thread, glibc derives them from `/proc/self/maps` and the stack
/// size limit). `None` if they cannot be had.
pub(crate) fn current_stack() -> Option<StackBounds> {
    // SAFETY: `pthread_attr_t` is a plain C struct for which all-zero bytes
    // are a valid value to hand to pthread_getattr_np, which initialises it.
    let mut attr: libc::pthread_attr_t = unsafe { std::mem::zeroed() };
    // SAFETY: pthread_self() is the calling thread, alive; `attr` is a
    // valid, writable struct owned by this frame.
    if unsafe { libc::pthread_getattr_np(libc::pthread_self(), &mut attr) } != 0 {
        return None;
    }
    let mut base: *mut libc::c_void = std::ptr::null_mut();
    let mut size: libc::size_t = 0;
    // SAFETY: `attr` was initialised by pthread_getattr_np just above;
    // `base` and `size` are valid, writable locals.
    let rc = unsafe { libc::pthread_attr_getstack(&attr, &mut base, &mut size) };
    // SAFETY: `attr` was initialised by pthread_getattr_np and is destroyed
    // once, here.
    unsafe { libc::pthread_attr_destroy(&mut attr) };
    if rc != 0 {
        return None;
    }
    let start = base.addr();
    Some(start..start.checked_add(size)?)
}

// ----- the loaded objects, on the watchdog thread ------------------------------

/// The counters of objects loaded and unloaded since the process started
/// (`dlpi_adds`, `dlpi_subs`): when they have not moved, the [`Modules`]
/// built with them are still those of the process.
pub(crate) fn loaded_objects_generation() -> (u64, u64) {
    let mut generation = (0u64, 0u64);
    unsafe extern "C" fn first(
        info: *mut libc::dl_phdr_info,
        size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        if size >= std::mem::size_of::<libc::dl_phdr_info>() {
            // SAFETY: the C library passes a valid `dl_phdr_info` of `size`
            // bytes, which is large enough to hold the counters (checked);
            // `data` is the `(u64, u64)` below, alive for the whole call.
            unsafe {
                let info = &*info;
                *data.cast::<(u64, u64)>() = (info.dlpi_adds, info.dlpi_subs);
            }
        }
        1 // the counters are the same in every entry: stop here
    }
    // SAFETY: `first` has the callback type dl_iterate_phdr expects and only
    // writes `generation` through `data`.
    unsafe { libc::dl_iterate_phdr(Some(first), (&raw mut generation).cast()) };
    generation
}

/// One loaded object, with copies of its unwind tables.
struct Object {
    name: String,
    /// The load bias (`dlpi_addr`): an address in the object's own terms
    /// plus this is where it is in the process.
    bias: u64,
    /// From the first to the end of the last executable segment, in the
    /// process.
    code: Range<u64>,
    eh_frame_hdr: Vec<u8>,
    /// Where `.eh_frame_hdr` is, in the process.
    eh_frame_hdr_at: u64,
    eh_frame: Vec<u8>,
    /// Where `.eh_frame` is, in the process.
    eh_frame_at: u64,
}

/// The unwind tables of the process's loaded objects, copied, ready for a
/// walk in signal context. Built on the watchdog thread, never changed
/// afterwards: a new set is built when objects are loaded or unloaded.
pub(crate) struct Modules {
    unwinder: arch::Unwinder,
    /// The objects' code, sorted by start.
    code: Vec<Range<u64>>,
    /// Each object's name (empty for the program itself) and load bias,
    /// in the order of `code`.
    names: Vec<(Arc<str>, u64)>,
    generation: (u64, u64),
}

impl std::fmt::Debug for Modules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Modules")
            .field("objects", &self.code.len())
            .field("generation", &self.generation)
            .finish()
    }
}

impl Modules {
    /// Lists the loaded objects and copies their unwind tables. Not in
    /// signal context: allocates, and takes the loader's lock.
    pub(crate) fn load() -> Modules {
        let generation = loaded_objects_generation();
        let mut objects: Vec<Object> = Vec::new();
        unsafe extern "C" fn each(
            info: *mut libc::dl_phdr_info,
            _size: libc::size_t,
            data: *mut libc::c_void,
        ) -> libc::c_int {
            // SAFETY: the C library passes a valid `dl_phdr_info` for a
            // loaded object, which stays loaded for the whole callback (the
            // loader's lock is held); `data` is the `Vec<Object>` below,
            // alive for the whole dl_iterate_phdr call and not otherwise
            // borrowed meanwhile.
            unsafe {
                let objects = &mut *data.cast::<Vec<Object>>();
                if let Some(object) = copy_object(&*info) {
                    objects.push(object);
                }
            }
            0
        }
        // SAFETY: `each` has the callback type dl_iterate_phdr expects and
        // only touches `objects` through `data`.
        unsafe { libc::dl_iterate_phdr(Some(each), (&raw mut objects).cast()) };
        objects.sort_by_key(|o| o.code.start);
        let code = objects.iter().map(|o| o.code.clone()).collect();
        let names = objects
            .iter()
            .map(|o| (Arc::from(o.name.as_str()), o.bias))
            .collect();
        let mut unwinder = arch::Unwinder::new();
        for object in objects {
            arch::add_module(&mut unwinder, module(object));
        }
        Modules {
            unwinder,
            code,
            names,
            generation,
        }
    }

    /// The loaded-objects counters these tables were built with.
    pub(crate) fn generation(&self) -> (u64, u64) {
        self.generation
    }

    /// Whether `address` is in the code of a known object.
    fn knows(&self, address: u64) -> bool {
        self.object_of(address).is_some()
    }

    /// The index of the object whose code holds `address`.
    fn object_of(&self, address: u64) -> Option<usize> {
        let after = self.code.partition_point(|c| c.start <= address);
        (after > 0 && self.code[after - 1].contains(&address)).then(|| after - 1)
    }

    /// The object whose code holds `address`, as its name (empty for the
    /// program itself) and the address in the object's own terms (minus
    /// its load bias, as `addr2line -e object` takes it).
    pub(crate) fn locate(&self, address: usize) -> Option<(Arc<str>, u64)> {
        let address = address as u64;
        let (name, bias) = &self.names[self.object_of(address)?];
        Some((name.clone(), address.wrapping_sub(*bias)))
    }
}

fn module(object: Object) -> framehop::Module<Vec<u8>> {
    let svma = |at: u64, len: usize| {
        let start = at.wrapping_sub(object.bias);
        start..start + len as u64
    };
    let info = framehop::ExplicitModuleSectionInfo {
        base_svma: 0,
        eh_frame_hdr_svma: Some(svma(object.eh_frame_hdr_at, object.eh_frame_hdr.len())),
        eh_frame_hdr: Some(object.eh_frame_hdr),
        eh_frame_svma: Some(svma(object.eh_frame_at, object.eh_frame.len())),
        eh_frame: Some(object.eh_frame),
        ..Default::default()
    };
    framehop::Module::new(object.name, object.code, object.bias, info)
}

/// Copies one object's unwind tables, if it has an `.eh_frame_hdr` (the
/// `PT_GNU_EH_FRAME` segment) and code.
///
/// # Safety
///
/// `info` describes an object that stays loaded for the whole call (as in
/// a dl_iterate_phdr callback).
unsafe fn copy_object(info: &libc::dl_phdr_info) -> Option<Object> {
    if info.dlpi_phdr.is_null() {
        return None;
    }
    // SAFETY: the C library gives `dlpi_phnum` program headers at
    // `dlpi_phdr`, in the object's mapped memory.
    let headers =
        unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    let bias = info.dlpi_addr;
    let mut code: Option<Range<u64>> = None;
    let mut loads = Vec::new();
    let mut hdr = None;
    for h in headers {
        let start = bias.wrapping_add(h.p_vaddr);
        let range = start..start.wrapping_add(h.p_memsz);
        match h.p_type {
            libc::PT_LOAD => {
                if h.p_flags & libc::PF_X != 0 {
                    code = Some(match code {
                        Some(c) => c.start.min(range.start)..c.end.max(range.end),
                        None => range.clone(),
                    });
                }
                loads.push(range);
            }
            libc::PT_GNU_EH_FRAME => hdr = Some(range),
            _ => {}
        }
    }
    let (code, hdr) = (code?, hdr?);
    // The header must lie in a loaded segment to be read.
    let in_load = |r: &Range<u64>| loads.iter().any(|l| l.start <= r.start && r.end <= l.end);
    if !in_load(&hdr) || hdr.is_empty() {
        return None;
    }
    // SAFETY: `hdr` lies within a loaded segment of the object (checked),
    // mapped and readable while the object is loaded.
    let eh_frame_hdr = unsafe { copy(hdr.start, (hdr.end - hdr.start) as usize) };
    let eh_frame_at = eh_frame_address(&eh_frame_hdr, hdr.start)?;
    let segment = loads
        .iter()
        .find(|l| l.start <= eh_frame_at && eh_frame_at < l.end)?;
    // SAFETY: from `eh_frame_at` to the end of its segment is mapped and
    // readable while the object is loaded.
    let len = unsafe { eh_frame_len(eh_frame_at, segment.end) };
    // SAFETY: as above; `len` stays within the segment.
    let eh_frame = unsafe { copy(eh_frame_at, len) };
    let name = if info.dlpi_name.is_null() {
        String::new()
    } else {
        // SAFETY: `dlpi_name` is a NUL-terminated string owned by the loader.
        unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) }
            .to_string_lossy()
            .into_owned()
    };
    Some(Object {
        name,
        bias,
        code,
        eh_frame_hdr,
        eh_frame_hdr_at: hdr.start,
        eh_frame,
        eh_frame_at,
    })
}

/// A copy of `len` bytes at `at`.
///
/// # Safety
///
/// `at..at + len` is mapped and readable.
unsafe fn copy(at: u64, len: usize) -> Vec<u8> {
    // SAFETY: the caller promises the bytes are readable; they are copied
    // at once into an owned buffer.
    unsafe { std::slice::from_raw_parts(at as *const u8, len) }.to_vec()
}

/// Where `.eh_frame` is, from the `eh_frame_ptr` field of its header
/// (which is at `hdr_at`): the encodings compilers and linkers use.
fn eh_frame_address(hdr: &[u8], hdr_at: u64) -> Option<u64> {
    const PCREL: u8 = 0x10;
    const DATAREL: u8 = 0x30;
    let (&version, rest) = hdr.split_first()?;
    let &encoding = rest.first()?;
    if version != 1 {
        return None;
    }
    // The field follows version and three encodings.
    let field = hdr.get(4..)?;
    let (value, _) = match encoding & 0x0f {
        0x00 | 0x04 => (u64::from_le_bytes(field.get(..8)?.try_into().ok()?), 8),
        0x03 => (
            u64::from(u32::from_le_bytes(field.get(..4)?.try_into().ok()?)),
            4,
        ),
        0x0b => (
            i64::from(i32::from_le_bytes(field.get(..4)?.try_into().ok()?)) as u64,
            4,
        ),
        0x0c => (u64::from_le_bytes(field.get(..8)?.try_into().ok()?), 8),
        _ => return None,
    };
    match encoding & 0x70 {
        0 => Some(value),
        PCREL => Some((hdr_at + 4).wrapping_add(value)),
        DATAREL => Some(hdr_at.wrapping_add(value)),
        _ => None,
    }
}

/// The length of the `.eh_frame` section at `at`: its entries up to the
/// zero terminator, or up to `limit` (the end of its segment) for a
/// linker that writes none.
///
/// # Safety
///
/// `at..limit` is mapped and readable.
unsafe fn eh_frame_len(at: u64, limit: u64) -> usize {
    let mut offset = at;
    while offset + 4 <= limit {
        // SAFETY: `offset..offset + 4` is within `at..limit` (checked).
        let len = u64::from(unsafe { (offset as *const u32).read_unaligned() });
        let next = match len {
            0 => return (offset + 4 - at) as usize,
            0xffff_ffff => {
                if offset + 12 > limit {
                    break;
                }
                // SAFETY: within `at..limit` (checked just above).
                let long = unsafe { ((offset + 4) as *const u64).read_unaligned() };
                (offset + 12).checked_add(long)
            }
            _ => Some(offset + 4 + len),
        };
        match next {
            Some(next) if next <= limit => offset = next,
            _ => break,
        }
    }
    (offset - at) as usize
}

// ----- the walk, in signal context ----------------------------------------------

/// What a walk needs besides the stack: the tables, and the unwinder's
/// cache, allocated beforehand. Owned by one loop's slot, used by one walk
/// at a time.
pub(crate) struct Walker {
    modules: Option<Arc<Modules>>,
    cache: Option<Box<arch::Cache>>,
}

impl std::fmt::Debug for Walker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walker")
            .field("modules", &self.modules)
            .finish_non_exhaustive()
    }
}

impl Walker {
    /// A walker without tables: its walks are skipped until
    /// [`prepare`](Walker::prepare).
    pub(crate) const fn new() -> Walker {
        Walker {
            modules: None,
            cache: None,
        }
    }

    /// Gives the walker these tables (and its cache, the first time). Not
    /// in signal context.
    pub(crate) fn prepare(&mut self, modules: &Arc<Modules>) {
        if !self
            .modules
            .as_ref()
            .is_some_and(|m| Arc::ptr_eq(m, modules))
        {
            self.modules = Some(modules.clone());
        }
        if self.cache.is_none() {
            self.cache = Some(Box::new(arch::new_cache()));
        }
    }
}

/// Walks the stack of the thread interrupted by the signal whose
/// `siginfo_t` is `info`, handing `record` the interrupted instruction
/// pointer and then each return address (innermost first) until it
/// returns false, the stack ends, a frame is outside every known object,
/// or a read would leave `stack`.
///
/// Runs in signal context, on the interrupted thread: no lock, no
/// allocation, no call into the C library, every read within `stack`.
pub(crate) fn walk(
    info: &libc::siginfo_t,
    walker: &mut Walker,
    stack: StackBounds,
    record: &mut dyn FnMut(usize) -> bool,
) -> Result<(), Skipped> {
    let (Some(modules), Some(cache)) = (walker.modules.as_deref(), walker.cache.as_deref_mut())
    else {
        return Err(Skipped::NoTables);
    };
    arch::walk(info, modules, cache, stack, record)
}

#[cfg(target_arch = "x86_64")]
mod arch {
    use std::mem::{offset_of, size_of};

    use framehop::Unwinder as _;
    use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
    use framehop::{FrameAddress, MustNotAllocateDuringUnwind};

    use super::{Modules, StackBounds};
    use crate::watchdog::slot::Skipped;

    pub(super) type Unwinder = UnwinderX86_64<Vec<u8>, MustNotAllocateDuringUnwind>;
    pub(super) type Cache = CacheX86_64<MustNotAllocateDuringUnwind>;

    pub(super) fn add_module(unwinder: &mut Unwinder, module: framehop::Module<Vec<u8>>) {
        unwinder.add_module(module);
    }

    pub(super) fn new_cache() -> Cache {
        Cache::new_in()
    }

    /// The size of the kernel's `struct ucontext` in an x86_64 signal
    /// frame: flags, link, `stack_t`, `struct sigcontext` (256 bytes) and
    /// an 8-byte signal mask. The kernel's `struct rt_sigframe` puts the
    /// `siginfo_t` right after it, so the `ucontext` of a handler given
    /// `info` starts this many bytes before `info`. (This is the kernel's
    /// ABI, fixed by `sigreturn`; glibc and musl hand both pointers to the
    /// handler unchanged, and signal-hook passes `info` on as it got it.)
    const KERNEL_UCONTEXT_SIZE: usize = 304;
    /// Where the general registers are in that `ucontext`: the same as in
    /// the C library's `ucontext_t`, whose start mirrors the kernel's.
    const GREGS: usize =
        offset_of!(libc::ucontext_t, uc_mcontext) + offset_of!(libc::mcontext_t, gregs);
    const _: () = assert!(GREGS + 23 * 8 <= KERNEL_UCONTEXT_SIZE);

    pub(super) fn walk(
        info: &libc::siginfo_t,
        modules: &Modules,
        cache: &mut Cache,
        stack: StackBounds,
        record: &mut dyn FnMut(usize) -> bool,
    ) -> Result<(), Skipped> {
        let (ip, sp, bp) = interrupted_registers(info, &stack)?;
        let mut read_stack = |address: u64| -> Result<u64, ()> {
            let address = usize::try_from(address).map_err(|_| ())?;
            let in_use = sp..stack.end;
            let end = address.checked_add(8).ok_or(())?;
            if address % 8 != 0 || !in_use.contains(&address) || end > in_use.end {
                return Err(());
            }
            // SAFETY: the word lies between the interrupted stack pointer
            // and the top of the interrupted thread's stack (checked just
            // above): the part of that stack in use when the signal came,
            // mapped and readable for as long as the thread lives, and the
            // thread is this one, running this handler. It is aligned.
            Ok(unsafe { std::ptr::read_volatile(address as *const u64) })
        };
        let regs = UnwindRegsX86_64::new(ip as u64, sp as u64, bp as u64);
        let mut frames = modules
            .unwinder
            .iter_frames(ip as u64, regs, cache, &mut read_stack);
        while let Ok(Some(frame)) = frames.next() {
            let address = frame.address();
            if !record(address as usize) {
                break;
            }
            let lookup = match frame {
                FrameAddress::InstructionPointer(ip) => ip,
                FrameAddress::ReturnAddress(_) => frame.address_for_lookup(),
            };
            if !modules.knows(lookup) {
                break; // no tables to find its caller with
            }
        }
        Ok(())
    }

    /// The interrupted instruction, stack and frame pointers, read from
    /// the signal frame the kernel pushed below the interrupted stack
    /// pointer, after checking that the frame is on `stack`, above the
    /// handler's own frame.
    fn interrupted_registers(
        info: &libc::siginfo_t,
        stack: &StackBounds,
    ) -> Result<(usize, usize, usize), Skipped> {
        // The handler's own frame: the signal frame is above it.
        let here = std::ptr::from_ref(&stack).addr();
        let info_at = std::ptr::from_ref(info).addr();
        let frame_end = info_at.checked_add(size_of::<libc::siginfo_t>());
        let ucontext = info_at.checked_sub(KERNEL_UCONTEXT_SIZE);
        let (Some(ucontext), Some(frame_end)) = (ucontext, frame_end) else {
            return Err(Skipped::OtherStack);
        };
        if !stack.contains(&here) || ucontext < here || frame_end > stack.end || ucontext % 8 != 0 {
            // Running on another stack (an alternate signal stack, a
            // coroutine's), or handed a copied siginfo_t.
            return Err(Skipped::OtherStack);
        }
        let reg = |index: libc::c_int| {
            let at = ucontext + GREGS + 8 * index as usize;
            // SAFETY: `at` is within `ucontext..info_at` (GREGS plus 23
            // registers fit in KERNEL_UCONTEXT_SIZE, checked at compile
            // time), which is on this thread's stack between the handler's
            // frame and the stack's top (checked above): mapped and
            // readable. It is 8-aligned.
            unsafe { std::ptr::read_volatile(at as *const usize) }
        };
        let (ip, sp, bp) = (reg(libc::REG_RIP), reg(libc::REG_RSP), reg(libc::REG_RBP));
        // The interrupted stack pointer is on the stack, above the signal
        // frame.
        if !stack.contains(&sp) || sp < frame_end {
            return Err(Skipped::OtherStack);
        }
        Ok((ip, sp, bp))
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod arch {
    use super::{Modules, StackBounds};
    use crate::watchdog::slot::Skipped;

    /// No tables are kept on this architecture.
    pub(super) struct Unwinder;

    impl Unwinder {
        pub(super) fn new() -> Unwinder {
            Unwinder
        }
    }

    pub(super) fn add_module(_unwinder: &mut Unwinder, _module: framehop::Module<Vec<u8>>) {}

    pub(super) struct Cache;

    pub(super) fn new_cache() -> Cache {
        Cache
    }

    pub(super) fn walk(
        _info: &libc::siginfo_t,
        _modules: &Modules,
        _cache: &mut Cache,
        _stack: StackBounds,
        _record: &mut dyn FnMut(usize) -> bool,
    ) -> Result<(), Skipped> {
        Err(Skipped::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_know_this_functions_code() {
        let modules = Modules::load();
        let here = (the_tables_know_this_functions_code as fn()) as usize as u64;
        assert!(modules.knows(here), "{modules:?}");
        assert!(!modules.knows(0x10));
        assert_eq!(modules.generation(), loaded_objects_generation());
    }

    #[test]
    fn the_stack_bounds_hold_a_local() {
        let stack = current_stack().expect("stack bounds");
        let local = 0u8;
        assert!(stack.contains(&std::ptr::from_ref(&local).addr()));
    }

    #[test]
    fn eh_frame_pointers_are_decoded() {
        // version 1, pcrel sdata4, then +0x40 from the field at hdr + 4.
        let hdr = [1, 0x1b, 0x03, 0x3b, 0x40, 0, 0, 0];
        assert_eq!(eh_frame_address(&hdr, 0x1000), Some(0x1044));
        let hdr = [1, 0x03, 0x03, 0x3b, 0x00, 0x20, 0, 0];
        assert_eq!(eh_frame_address(&hdr, 0x1000), Some(0x2000));
        assert_eq!(eh_frame_address(&[2, 0x1b, 0, 0, 0, 0, 0, 0], 0), None);
        assert_eq!(eh_frame_address(&[1, 0x1b], 0), None);
    }
}
