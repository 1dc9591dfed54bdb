//! The I/O handler table and the level-triggered contract.
//!
//! Tornado's contract: a handler that leaves data unread, or keeps `WRITE`
//! interest on a writable socket, is called again on the next iteration.
//! With the native poller on Linux registrations are natively
//! level-triggered (see [`poller`](crate::core::poller)) and the kernel keeps the
//! contract. Where the poller is edge-triggered (mio's registry: the
//! portable poller, and every platform but Linux), the loop keeps it
//! by re-arming a descriptor with a `MOD` after its handler returns (the
//! kernel re-queues a descriptor that is still ready), skipped when it
//! cannot matter:
//!
//! * the handler removed its registration, or changed it with
//!   `update_handler` (which is itself a `MOD`);
//! * the handler told the loop, with `mark_drained`, that it read or wrote
//!   until `WouldBlock` for every event it was given: the "drained" fast
//!   path, which costs no system call at all.
//!
//! Each registration carries a generation that is part of its mio token, so
//! an event for a registration removed earlier in the same batch is dropped,
//! even when its descriptor number was reused meanwhile.
//!
//! Each registration also carries a reference flag (libuv's per-handle
//! `uv_ref`/`uv_unref`): an unreferenced handler is still called, but does
//! not keep `IOLoop::run` going. The table counts the unreferenced ones.

use std::os::fd::{OwnedFd, RawFd};
use std::panic::Location;

use mio::Token;
use slab::Slab;

use crate::Events;
use crate::core::poller::Trigger;

/// A registered handler.
pub(crate) type HandlerFn = Box<dyn FnMut(RawFd, Events)>;

/// The token of the loop's waker; never a registration.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

const _: () = assert!(
    usize::BITS >= 64,
    "ioloop packs (slot, generation) into a 64-bit mio token"
);

pub(crate) struct Registration {
    pub(crate) fd: RawFd,
    /// The mask the handler asked for (without the implicit `ERROR`).
    pub(crate) interest: Events,
    generation: u32,
    /// `None` while the handler runs.
    pub(crate) handler: Option<HandlerFn>,
    pub(crate) owned: Option<OwnedFd>,
    pub(crate) site: &'static Location<'static>,
    /// Set by `update_handler` during a dispatch: the `MOD` it made re-armed.
    pub(crate) rearmed: bool,
    /// Events the handler declared drained during this dispatch.
    pub(crate) drained: Events,
    /// Level- or edge-triggered.
    pub(crate) trigger: Trigger,
    /// False for a handler that does not keep `IOLoop::run` going.
    referenced: bool,
}

impl Registration {
    pub(crate) fn token(&self, slot: usize) -> Token {
        Token(slot | (self.generation as usize) << 32)
    }

    /// Whether the descriptor must be re-armed after a dispatch of
    /// `delivered`, to keep level-triggered semantics on a poller that
    /// is edge-triggered (`native_level` false).
    pub(crate) fn needs_rearm(&self, delivered: Events, native_level: bool) -> bool {
        if native_level || self.trigger == Trigger::Edge || self.rearmed {
            return false;
        }
        if delivered.is_error() {
            // Hang-up and error are level conditions too: a handler that
            // ignores them is called again, as in Tornado.
            return true;
        }
        !self
            .drained
            .contains(delivered & (Events::READ | Events::WRITE))
    }
}

/// Tornado events for a mio event: `ERROR` for `EPOLLERR` or `EPOLLHUP`.
pub(crate) fn events_from_mio(event: &mio::event::Event) -> Events {
    let mut events = Events::NONE;
    if event.is_readable() {
        events |= Events::READ;
    }
    if event.is_writable() {
        events |= Events::WRITE;
    }
    // mio reports EPOLLHUP as "read closed and write closed".
    if event.is_error() || (event.is_read_closed() && event.is_write_closed()) {
        events |= Events::ERROR;
    }
    if event.is_read_closed() {
        // Only edge handlers receive it (see `dispatch`).
        events |= Events::READ_CLOSED;
    }
    events
}

/// Registrations by slot, and by descriptor.
#[derive(Default)]
pub(crate) struct HandlerTable {
    slab: Slab<Registration>,
    /// INVARIANT: `by_fd[fd] == slot + 1` for every registration, 0 elsewhere.
    by_fd: Vec<u32>,
    next_generation: u32,
    /// INVARIANT: the number of registrations with `referenced == false`.
    unreferenced: usize,
}

impl HandlerTable {
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    pub(crate) fn slot_of(&self, fd: RawFd) -> Option<usize> {
        let index = usize::try_from(fd).ok()?;
        match self.by_fd.get(index) {
            Some(&n) if n != 0 => Some(n as usize - 1),
            _ => None,
        }
    }

    /// Adds a registration (the caller has checked `fd` is free) and returns
    /// its token.
    pub(crate) fn insert(
        &mut self,
        fd: RawFd,
        interest: Events,
        handler: HandlerFn,
        owned: Option<OwnedFd>,
        trigger: Trigger,
        site: &'static Location<'static>,
    ) -> Token {
        let index = usize::try_from(fd).expect("negative fds are refused before insert");
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1);
        let slot = self.slab.insert(Registration {
            fd,
            interest,
            generation,
            handler: Some(handler),
            owned,
            site,
            rearmed: false,
            drained: Events::NONE,
            trigger,
            referenced: true,
        });
        if self.by_fd.len() <= index {
            self.by_fd.resize(index + 1, 0);
        }
        self.by_fd[index] = u32::try_from(slot + 1).expect("more than 2^32 handlers");
        self.slab[slot].token(slot)
    }

    /// The registration for a token, if it is still the one the token names.
    pub(crate) fn by_token(&mut self, token: Token) -> Option<&mut Registration> {
        let slot = token.0 & 0xffff_ffff;
        let generation = (token.0 >> 32) as u32;
        self.slab
            .get_mut(slot)
            .filter(|reg| reg.generation == generation)
    }

    pub(crate) fn by_fd(&mut self, fd: RawFd) -> Option<(usize, &mut Registration)> {
        let slot = self.slot_of(fd)?;
        Some((slot, &mut self.slab[slot]))
    }

    pub(crate) fn remove(&mut self, fd: RawFd) -> Option<Registration> {
        let slot = self.slot_of(fd)?;
        self.by_fd[fd as usize] = 0;
        let reg = self.slab.remove(slot);
        if !reg.referenced {
            self.unreferenced -= 1;
        }
        Some(reg)
    }

    /// Removes every registration.
    pub(crate) fn drain(&mut self) -> Vec<Registration> {
        self.by_fd.clear();
        self.unreferenced = 0;
        self.slab.drain().collect()
    }

    /// Marks `fd`'s handler as keeping the loop alive or not (idempotent).
    /// Returns false if `fd` has no handler.
    pub(crate) fn set_referenced(&mut self, fd: RawFd, referenced: bool) -> bool {
        let Some(slot) = self.slot_of(fd) else {
            return false;
        };
        let reg = &mut self.slab[slot];
        if reg.referenced != referenced {
            reg.referenced = referenced;
            if referenced {
                self.unreferenced -= 1;
            } else {
                self.unreferenced += 1;
            }
        }
        true
    }

    /// Number of handlers that keep the loop alive.
    pub(crate) fn referenced(&self) -> usize {
        self.slab.len() - self.unreferenced
    }

    /// Every registration's descriptor, token and interest (to register
    /// them again with a new poller after `fork`).
    pub(crate) fn registrations(&self) -> Vec<(RawFd, Token, Events, Trigger)> {
        self.slab
            .iter()
            .map(|(slot, reg)| (reg.fd, reg.token(slot), reg.interest, reg.trigger))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_with(fds: &[RawFd]) -> HandlerTable {
        let mut table = HandlerTable::default();
        for &fd in fds {
            table.insert(
                fd,
                Events::READ,
                Box::new(|_, _| {}),
                None,
                Trigger::Level,
                Location::caller(),
            );
        }
        table
    }

    #[test]
    fn reference_flags_are_idempotent_and_counted() {
        let mut table = table_with(&[3, 4, 5]);
        assert_eq!(table.referenced(), 3);
        assert!(table.set_referenced(4, false));
        assert!(table.set_referenced(4, false));
        assert_eq!(table.referenced(), 2);
        assert!(table.set_referenced(4, true));
        assert!(table.set_referenced(5, false));
        assert_eq!(table.referenced(), 2);
        assert!(!table.set_referenced(9, false), "no handler for fd 9");
        // Removing an unreferenced handler forgets its flag.
        drop(table.remove(5));
        assert_eq!(table.referenced(), 2);
        table.insert(
            5,
            Events::READ,
            Box::new(|_, _| {}),
            None,
            Trigger::Edge,
            Location::caller(),
        );
        assert_eq!(table.referenced(), 3, "a new registration is referenced");
        table.set_referenced(3, false);
        drop(table.drain());
        assert_eq!(table.referenced(), 0);
    }

    #[test]
    fn slots_are_found_by_fd_and_tokens_go_stale_with_their_registration() {
        let mut table = table_with(&[3, 9]);
        assert_eq!(table.len(), 2);
        assert_eq!(table.slot_of(-1), None);
        assert_eq!(table.slot_of(4), None, "between registered fds");
        assert_eq!(table.slot_of(100), None, "past the last one");
        let (slot, reg) = table.by_fd(9).expect("fd 9");
        assert_eq!(reg.fd, 9);
        let old = reg.token(slot);
        assert_eq!(table.by_token(old).map(|r| r.fd), Some(9));

        let removed = table.remove(9).expect("fd 9");
        assert_eq!(removed.fd, 9);
        assert!(table.remove(9).is_none(), "removed once");
        assert_eq!((table.len(), table.slot_of(9)), (1, None));
        // The slot is reused for another fd: the old token names nothing.
        let new = table.insert(
            5,
            Events::WRITE,
            Box::new(|_, _| {}),
            None,
            Trigger::Level,
            Location::caller(),
        );
        assert_eq!(new.0 & 0xffff_ffff, old.0 & 0xffff_ffff, "same slot");
        assert!(table.by_token(old).is_none());
        assert_eq!(table.by_token(new).map(|r| r.fd), Some(5));
        assert_eq!(table.slot_of(5), Some(slot));
        assert_eq!(table.slot_of(3), Some(0));
        assert_eq!(table.drain().len(), 2);
        assert_eq!((table.len(), table.slot_of(3)), (0, None));
    }

    #[test]
    fn registrations_lists_tokens_that_resolve() {
        let mut table = table_with(&[7, 8]);
        let regs = table.registrations();
        assert_eq!(regs.len(), 2);
        for (fd, token, interest, trigger) in regs {
            assert_eq!((interest, trigger), (Events::READ, Trigger::Level));
            assert_eq!(table.by_token(token).map(|r| r.fd), Some(fd));
        }
    }
}
