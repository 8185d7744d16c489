//! Replaying a lemming dump: load the pre-GC heap and run exactly that full
//! GC again, verifying after every phase (tenure, mark, each compaction
//! pass's plan, update and move, sweep), and report the first phase and
//! object that broke an invariant. Addresses in the report are those of the
//! heap the dump was taken from.

use crate::config::GcFault;
use crate::fullgc::PhaseLog;
use crate::heap::Heap;
use crate::oop::Oop;
use crate::verify::{verify, VerifyOptions};
use std::fmt;
use std::io;
use std::path::Path;

/// The result of a replay.
#[derive(Clone, Debug)]
pub struct ReplayReport {
    /// Phases whose checks passed, in order.
    pub phases_passed: Vec<String>,
    /// The first failing phase and its findings, if any.
    pub fault: Option<GcFault>,
    /// Base address of the heap the dump came from.
    pub original_base: usize,
}

impl ReplayReport {
    pub fn is_clean(&self) -> bool {
        self.fault.is_none()
    }

    /// The phase that broke an invariant, e.g. "full gc: compact pass 2: plan".
    pub fn failed_phase(&self) -> Option<&str> {
        self.fault.as_ref().map(|f| f.phase.as_str())
    }

    /// The address (in the original heap) of the first corrupted object.
    pub fn first_object(&self) -> Option<usize> {
        self.fault
            .as_ref()
            .and_then(|f| f.findings.first())
            .map(|f| f.addr)
    }
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.phases_passed {
            writeln!(f, "ok    {p}")?;
        }
        match &self.fault {
            None => writeln!(f, "replay clean: every phase verified"),
            Some(fault) => {
                writeln!(f, "FAIL  {}", fault.phase)?;
                if let Some(a) = self.first_object() {
                    writeln!(
                        f,
                        "first corrupted object: {a:#x} (heap offset {:#x})",
                        a.wrapping_sub(self.original_base)
                    )?;
                }
                for x in fault.findings.iter().take(20) {
                    writeln!(f, "  {x}")?;
                }
                Ok(())
            }
        }
    }
}

/// Loads a dump and re-runs its full GC with a check after every phase.
pub fn replay(path: &Path) -> io::Result<ReplayReport> {
    let loaded = Heap::load_dump(path)?;
    let mut heap = loaded.heap;
    let delta = loaded.delta;
    let mut roots: Vec<Oop> = loaded.vm_roots;
    let mut report = ReplayReport {
        phases_passed: Vec::new(),
        fault: None,
        original_base: loaded.original_base,
    };
    let mut pre = verify(&heap, VerifyOptions::default());
    if !pre.is_empty() {
        for f in &mut pre {
            f.addr = (f.addr as i64 - delta) as usize;
        }
        report.fault = Some(GcFault {
            phase: "loaded dump (before the GC)".into(),
            findings: pre,
            dump: None,
        });
        return Ok(report);
    }
    report.phases_passed.push("loaded dump (before the GC)".into());
    let mut log = PhaseLog::new(true);
    log.addr_bias = delta;
    let mut visit = |f: &mut dyn FnMut(&mut Oop)| roots.iter_mut().for_each(f);
    let result = heap.full_gc_raw(&mut visit, &mut log);
    report.phases_passed.extend(log.passed);
    report.fault = result.err();
    Ok(report)
}
