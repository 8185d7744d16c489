//! Processes: the scheduler's priority lists, semaphores, process switches,
//! the timer, and what happens when nothing can run.

use super::{Fault, Vm};
use gc::specials::{linked_list, process, scheduler, semaphore, so};
use gc::Oop;

/// The fault text that means "no process can ever run again".
pub const DEADLOCK: &str = "deadlock: no runnable process and no pending wake-up";

impl Vm {
    fn process_lists(&self) -> Oop {
        self.heap.slot(self.scheduler(), scheduler::PROCESS_LISTS)
    }

    fn priority_of(&self, p: Oop) -> usize {
        self.heap
            .slot(p, process::PRIORITY)
            .as_small_int()
            .unwrap_or(1)
            .max(1) as usize
    }

    pub(crate) fn is_empty_list(&self, list: Oop) -> bool {
        self.heap.slot(list, linked_list::FIRST_LINK) == self.nil()
    }

    /// Appends `p` to the linked list `list`.
    pub(crate) fn add_last_link(&mut self, list: Oop, p: Oop) {
        let nil = self.nil();
        if self.is_empty_list(list) {
            self.heap.set_slot(list, linked_list::FIRST_LINK, p);
        } else {
            let last = self.heap.slot(list, linked_list::LAST_LINK);
            self.heap.set_slot(last, process::NEXT_LINK, p);
        }
        self.heap.set_slot(list, linked_list::LAST_LINK, p);
        self.heap.set_slot(p, process::NEXT_LINK, nil);
        self.heap.set_slot(p, process::MY_LIST, list);
    }

    /// Removes and answers the first link of a non-empty list.
    pub(crate) fn remove_first_link(&mut self, list: Oop) -> Oop {
        let nil = self.nil();
        let first = self.heap.slot(list, linked_list::FIRST_LINK);
        let last = self.heap.slot(list, linked_list::LAST_LINK);
        if first == last {
            self.heap.set_slot(list, linked_list::FIRST_LINK, nil);
            self.heap.set_slot(list, linked_list::LAST_LINK, nil);
        } else {
            let next = self.heap.slot(first, process::NEXT_LINK);
            self.heap.set_slot(list, linked_list::FIRST_LINK, next);
        }
        self.heap.set_slot(first, process::NEXT_LINK, nil);
        self.heap.set_slot(first, process::MY_LIST, nil);
        first
    }

    /// Removes `p` from `list` wherever it is; true if it was there.
    pub(crate) fn remove_link(&mut self, list: Oop, p: Oop) -> bool {
        let nil = self.nil();
        let mut prev = nil;
        let mut cur = self.heap.slot(list, linked_list::FIRST_LINK);
        while cur != nil {
            let next = self.heap.slot(cur, process::NEXT_LINK);
            if cur == p {
                if prev == nil {
                    self.heap.set_slot(list, linked_list::FIRST_LINK, next);
                } else {
                    self.heap.set_slot(prev, process::NEXT_LINK, next);
                }
                if self.heap.slot(list, linked_list::LAST_LINK) == p {
                    self.heap.set_slot(list, linked_list::LAST_LINK, prev);
                }
                self.heap.set_slot(p, process::NEXT_LINK, nil);
                self.heap.set_slot(p, process::MY_LIST, nil);
                return true;
            }
            prev = cur;
            cur = next;
        }
        false
    }

    /// Makes `p` runnable without switching to it.
    pub(crate) fn put_to_sleep(&mut self, p: Oop) {
        let pri = self.priority_of(p);
        let lists = self.process_lists();
        let n = self.heap.num_slots(lists);
        let list = self.heap.slot(lists, pri.min(n) - 1);
        self.add_last_link(list, p);
    }

    /// Makes `p` runnable at the front of its priority's list.
    fn put_to_sleep_first(&mut self, p: Oop) {
        let pri = self.priority_of(p);
        let lists = self.process_lists();
        let n = self.heap.num_slots(lists);
        let list = self.heap.slot(lists, pri.min(n) - 1);
        let first = self.heap.slot(list, linked_list::FIRST_LINK);
        if first == self.nil() {
            self.add_last_link(list, p);
        } else {
            self.heap.set_slot(p, process::NEXT_LINK, first);
            self.heap.set_slot(list, linked_list::FIRST_LINK, p);
            self.heap.set_slot(p, process::MY_LIST, list);
        }
    }

    /// The highest-priority runnable process, removed from its list.
    fn wake_highest_priority(&mut self) -> Option<Oop> {
        let lists = self.process_lists();
        for i in (0..self.heap.num_slots(lists)).rev() {
            let list = self.heap.slot(lists, i);
            if !self.is_empty_list(list) {
                return Some(self.remove_first_link(list));
            }
        }
        None
    }

    /// Switches to `p`: the active process's frames are saved in contexts.
    pub(crate) fn transfer_to(&mut self, p: Oop) -> Result<(), Fault> {
        let old = self.active_process();
        let ctx = self.spill_all()?;
        self.heap.set_slot(old, process::SUSPENDED_CONTEXT, ctx);
        let sched = self.scheduler();
        self.heap.set_slot(sched, scheduler::ACTIVE_PROCESS, p);
        let nil = self.nil();
        self.heap.set_slot(p, process::MY_LIST, nil);
        let new_ctx = self.heap.slot(p, process::SUSPENDED_CONTEXT);
        self.heap.set_slot(p, process::SUSPENDED_CONTEXT, nil);
        self.load_context(new_ctx)
    }

    /// `resume`: run `p` now if it is more urgent, else queue it. A
    /// preempted process goes back to the front of its list: preemption
    /// does not yield (as in Squeak 5 and later).
    pub(crate) fn resume(&mut self, p: Oop) -> Result<(), Fault> {
        let active = self.active_process();
        if self.priority_of(p) > self.priority_of(active) {
            self.put_to_sleep_first(active);
            self.transfer_to(p)
        } else {
            self.put_to_sleep(p);
            Ok(())
        }
    }

    /// The active process stops running; the next runnable one takes over.
    pub(crate) fn suspend_active(&mut self) -> Result<(), Fault> {
        match self.wake_highest_priority() {
            Some(p) => self.transfer_to(p),
            None => self.idle_until_runnable(),
        }
    }

    /// Nothing is runnable (the image has no idle process): wait for the
    /// timer or an external signal, or report deadlock.
    fn idle_until_runnable(&mut self) -> Result<(), Fault> {
        loop {
            if let Some((_, when)) = self.timer {
                let now = platform::clock::utc_micros_since_1901();
                if when > now {
                    std::thread::sleep(std::time::Duration::from_micros((when - now).min(50_000)));
                }
                self.poll_timer_only()?;
                if let Some(p) = self.wake_highest_priority() {
                    return self.transfer_to(p);
                }
            } else if !self.pending_signals.is_empty() {
                self.poll_events()?;
                if let Some(p) = self.wake_highest_priority() {
                    return self.transfer_to(p);
                }
            } else {
                return Err(DEADLOCK.into());
            }
        }
    }

    /// Semaphore signal: wake the first waiter, or count an excess signal.
    pub(crate) fn signal(&mut self, sema: Oop) -> Result<(), Fault> {
        if !sema.is_object() || sema == self.nil() {
            return Ok(());
        }
        if self.is_empty_list(sema) {
            let n = self
                .heap
                .slot(sema, semaphore::EXCESS_SIGNALS)
                .as_small_int()
                .unwrap_or(0);
            self.heap
                .set_slot(sema, semaphore::EXCESS_SIGNALS, Oop::small_int(n + 1));
            Ok(())
        } else {
            let p = self.remove_first_link(sema);
            self.resume(p)
        }
    }

    /// Semaphore wait for the active process.
    pub(crate) fn wait(&mut self, sema: Oop) -> Result<(), Fault> {
        let n = self
            .heap
            .slot(sema, semaphore::EXCESS_SIGNALS)
            .as_small_int()
            .unwrap_or(0);
        if n > 0 {
            self.heap
                .set_slot(sema, semaphore::EXCESS_SIGNALS, Oop::small_int(n - 1));
            Ok(())
        } else {
            let active = self.active_process();
            self.add_last_link(sema, active);
            self.suspend_active()
        }
    }

    /// Yield: let other processes of the same priority run.
    pub(crate) fn yield_active(&mut self) -> Result<(), Fault> {
        let active = self.active_process();
        let pri = self.priority_of(active);
        let lists = self.process_lists();
        let list = self.heap.slot(lists, pri.min(self.heap.num_slots(lists)) - 1);
        if self.is_empty_list(list) {
            return Ok(());
        }
        self.add_last_link(list, active);
        let next = self.remove_first_link(list);
        self.transfer_to(next)
    }

    fn poll_timer_only(&mut self) -> Result<(), Fault> {
        if let Some((sema, when)) = self.timer {
            if platform::clock::utc_micros_since_1901() >= when {
                self.timer = None;
                self.signal(sema)?;
            }
        }
        Ok(())
    }

    /// Checked every few thousand bytecodes and on backward jumps: the timer
    /// and external semaphores.
    pub(crate) fn poll_events(&mut self) -> Result<(), Fault> {
        self.poll_timer_only()?;
        if !self.pending_signals.is_empty() {
            let pending = std::mem::take(&mut self.pending_signals);
            let table = self.heap.special(so::EXTERNAL_OBJECTS_ARRAY);
            for i in pending {
                if table.is_object() && i >= 1 && i <= self.heap.num_slots(table) {
                    let s = self.heap.slot(table, i - 1);
                    self.signal(s)?;
                }
            }
        }
        Ok(())
    }

    /// Signals external semaphore `index` (1-based) from Rust.
    pub fn signal_external_semaphore(&mut self, index: usize) {
        self.pending_signals.push(index);
    }
}
