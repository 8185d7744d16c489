//! The collection entry points the VM calls at safe points: checks before
//! and after (`verify_each_gc`), the lemming (`lemming`), statistics, stress
//! requests and the GC log.

use crate::config::{GcFault, GcKind, GcOutcome, GcRecord};
use crate::fullgc::PhaseLog;
use crate::heap::Heap;
use crate::oop::Oop;
use crate::scavenge::RootVisitor;
use crate::verify::{verify, Finding, VerifyOptions};
use std::time::Instant;

impl Heap {
    /// Scavenges new space. `roots` visits every root slot the VM holds
    /// (stack frames, registers, caches holding objects): it is called with a
    /// function that must be applied to each slot, which may rewrite it.
    pub fn scavenge(&mut self, roots: RootVisitor<'_>) -> Result<GcOutcome, GcFault> {
        self.collect(GcKind::Scavenge, roots)
    }

    /// A full GC: tenures new space, marks, compacts. Afterwards the heap has
    /// no forwarders and new space is empty.
    pub fn full_gc(&mut self, roots: RootVisitor<'_>) -> Result<GcOutcome, GcFault> {
        self.collect(GcKind::Full, roots)
    }

    /// Runs the collection [`Heap::gc_requested`] asks for, if any.
    pub fn collect_requested(&mut self, roots: RootVisitor<'_>) -> Result<Option<GcOutcome>, GcFault> {
        match self.gc_requested() {
            None => Ok(None),
            Some(k) => self.collect(k, roots).map(Some),
        }
    }

    /// The heap verifier plus the collector's own invariants (remembered set).
    pub fn gc_verify(&self) -> Vec<Finding> {
        verify(self, VerifyOptions::default())
    }

    /// Runs one collection of `kind`.
    pub fn collect(&mut self, kind: GcKind, roots: RootVisitor<'_>) -> Result<GcOutcome, GcFault> {
        let start_us = self.gc.created.elapsed().as_micros() as u64;
        let t0 = Instant::now();
        let bytes_before = (self.young_used_bytes() + self.old_used_bytes()) as u64;
        let check = self.gc.config.verify_each_gc;
        if check {
            let f = self.gc_verify();
            if !f.is_empty() {
                return Err(GcFault {
                    phase: format!("before {}", kind.name()),
                    findings: f,
                    dump: None,
                });
            }
        }
        if kind == GcKind::Full && self.gc.config.lemming {
            self.lemming(&mut *roots)?;
        }
        self.gc.collecting = true;
        let mut log = PhaseLog::new(false);
        log.cheap_checks = check;
        let mut record = GcRecord {
            kind: Some(kind),
            start_us,
            bytes_before,
            ..GcRecord::default()
        };
        let mut outcome = GcOutcome::default();
        match kind {
            GcKind::Scavenge => {
                let r = self.scavenge_raw(roots, false);
                log.phases
                    .push(("scavenge".into(), t0.elapsed().as_micros() as u64));
                record.objects_survived = r.survived;
                record.objects_tenured = r.tenured;
                outcome.mourners_queued = r.mourners;
                outcome.weak_slots_nilled = r.weak_nilled;
            }
            GcKind::Full => {
                let r = self.full_gc_raw(roots, &mut log);
                self.gc.collecting = false;
                let r = r?;
                record.objects_survived = r.live_objects;
                record.objects_tenured = r.scavenge.tenured;
                record.passes = r.passes;
                outcome.mourners_queued = r.mourners + r.scavenge.mourners;
                outcome.weak_slots_nilled = r.weak_nilled + r.scavenge.weak_nilled;
            }
        }
        self.gc.collecting = false;
        outcome.signal_finalization = outcome.mourners_queued > 0 || outcome.weak_slots_nilled > 0;
        let us = t0.elapsed().as_micros() as u64;
        record.duration_us = us;
        record.phases = log.phases;
        record.bytes_after = (self.young_used_bytes() + self.old_used_bytes()) as u64;
        let st = &mut self.gc.stats;
        match kind {
            GcKind::Scavenge => {
                st.scavenges += 1;
                st.scavenge_us += us;
                st.last_scavenge_us = us;
                st.tenured_objects += record.objects_tenured;
                st.last_tenured_objects = record.objects_tenured;
                self.gc.scavenge_requested = false;
                if let Some(n) = self.gc.config.stress {
                    self.gc.scavenges_since_stress_full += 1;
                    if self.gc.scavenges_since_stress_full >= n.max(1) as u64 {
                        self.gc.scavenges_since_stress_full = 0;
                        self.gc.full_requested = true;
                    }
                }
            }
            GcKind::Full => {
                st.full_gcs += 1;
                st.full_gc_us += us;
                st.last_full_gc_us = us;
                st.tenured_objects += record.objects_tenured;
                st.compaction_passes += record.passes as u64;
                self.gc.scavenge_requested = false;
                self.gc.full_requested = false;
                self.gc.old_used_at_full = self.old_used_bytes();
            }
        }
        if let Some(path) = self.gc.config.gc_log.clone() {
            // A log that cannot be written must not stop the VM.
            let _ = crate::log::append(&path, &record);
        }
        if check {
            let mut f = self.gc_verify();
            if kind == GcKind::Full {
                f.extend(verify(
                    self,
                    VerifyOptions {
                        allow_forwarders: false,
                        ..VerifyOptions::default()
                    },
                ));
            }
            if !f.is_empty() {
                return Err(GcFault {
                    phase: format!("after {}", kind.name()),
                    findings: f,
                    dump: None,
                });
            }
        }
        Ok(outcome)
    }

    /// Runs the coming full GC on a clone first, verifying after every phase;
    /// on a finding the pre-GC heap is dumped and the fault returned.
    fn lemming(&mut self, roots: RootVisitor<'_>) -> Result<(), GcFault> {
        let mut vm_roots: Vec<Oop> = Vec::new();
        roots(&mut |p: &mut Oop| vm_roots.push(*p));
        let io_fault = |e: std::io::Error| GcFault {
            phase: "lemming: cloning the heap".into(),
            findings: vec![Finding {
                addr: 0,
                field: None,
                what: e.to_string(),
            }],
            dump: None,
        };
        let (mut clone, delta) = self.clone_relocated().map_err(io_fault)?;
        let mut clone_roots: Vec<Oop> = vm_roots
            .iter()
            .map(|&r| clone.relocated(r, self, delta))
            .collect();
        let mut visit = |f: &mut dyn FnMut(&mut Oop)| clone_roots.iter_mut().for_each(f);
        let mut log = PhaseLog::new(true);
        log.addr_bias = delta;
        match clone.full_gc_raw(&mut visit, &mut log) {
            Ok(_) => Ok(()),
            Err(mut fault) => {
                fault.phase = format!("lemming: {}", fault.phase);
                match self.write_dump_file(&vm_roots) {
                    Ok(p) => fault.dump = Some(p),
                    Err(e) => fault.findings.push(Finding {
                        addr: 0,
                        field: None,
                        what: format!("could not write the dump: {e}"),
                    }),
                }
                Err(fault)
            }
        }
    }
}
