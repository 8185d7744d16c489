//! Memory-manager settings, results and statistics.

use crate::verify::Finding;
use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;

/// How the memory manager runs. [`Heap::set_gc_config`](crate::Heap::set_gc_config)
/// installs one; the defaults are a production setting (8 MiB eden, no checks).
#[derive(Clone, Debug)]
pub struct GcConfig {
    /// Bytes of eden; 0 disables new space (every object is allocated in old space).
    pub eden_bytes: usize,
    /// Bytes of each of the two survivor spaces; 0 means `eden_bytes / 4`.
    pub survivor_bytes: usize,
    /// Objects of more bytes than this are allocated directly in old space.
    pub large_object_bytes: usize,
    /// A full GC is requested when old space grew by more than this many
    /// bytes since the last full GC (0: never for this reason).
    pub full_gc_growth_bytes: usize,
    /// Entries of the compactor's saved-first-fields space: how many objects
    /// one compaction pass can move. More live objects take several passes,
    /// and every pass walks the heap to update pointers. 0 (the default)
    /// sizes it to the heap: at least 1M entries, one per 512 bytes of old
    /// space, so even a multi-gigabyte heap compacts in a few passes.
    pub saved_first_fields: usize,
    /// Verify the heap before and after every collection (and the
    /// remembered set); a finding makes the collection return a [`GcFault`].
    pub verify_each_gc: bool,
    /// `Some(n)`: request a scavenge every n allocations and a full GC every
    /// n scavenges.
    pub stress: Option<u32>,
    /// Before each full GC, run it on a clone of the heap verifying after
    /// every phase; on a finding, dump the pre-GC heap and fail.
    pub lemming: bool,
    /// Where lemming dumps go (default: the current directory).
    pub dump_dir: Option<PathBuf>,
    /// Append one JSON line per collection to this file.
    pub gc_log: Option<PathBuf>,
    /// Largest old space the mutator may grow (0: only the reservation
    /// limits it). Past it, allocation fails (the image sees a primitive
    /// failure) and a full GC is requested; the collector itself may still
    /// grow old space to finish a collection.
    pub max_old_space_bytes: usize,
    /// When fewer than this many bytes are left under `max_old_space_bytes`,
    /// the low-space signal is raised (once until it is taken).
    pub low_space_bytes: usize,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            eden_bytes: 8 << 20,
            survivor_bytes: 0,
            large_object_bytes: 64 << 10,
            full_gc_growth_bytes: 256 << 20,
            saved_first_fields: 0,
            verify_each_gc: false,
            stress: None,
            lemming: false,
            dump_dir: None,
            max_old_space_bytes: 0,
            low_space_bytes: 0,
            gc_log: None,
        }
    }
}

impl GcConfig {
    /// Survivor space size after applying the default.
    pub fn survivor_size(&self) -> usize {
        if self.survivor_bytes == 0 {
            (self.eden_bytes / 4) & !7
        } else {
            self.survivor_bytes & !7
        }
    }
}

/// The two kinds of collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GcKind {
    /// Copy live young objects to the other survivor space or old space.
    Scavenge,
    /// Mark everything, compact old space.
    Full,
}

impl GcKind {
    pub fn name(self) -> &'static str {
        match self {
            GcKind::Scavenge => "scavenge",
            GcKind::Full => "full",
        }
    }

    pub fn from_name(s: &str) -> Option<GcKind> {
        match s {
            "scavenge" => Some(GcKind::Scavenge),
            "full" => Some(GcKind::Full),
            _ => None,
        }
    }
}

/// A collection found a broken heap (only with checks turned on).
#[derive(Clone, Debug)]
pub struct GcFault {
    /// Which check failed, e.g. "before scavenge", "full gc: compact pass 2: plan".
    pub phase: String,
    pub findings: Vec<Finding>,
    /// The lemming's dump of the heap before the collection, if one was written.
    pub dump: Option<PathBuf>,
}

impl fmt::Display for GcFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "GC fault in phase '{}': {} finding(s)",
            self.phase,
            self.findings.len()
        )?;
        for x in self.findings.iter().take(20) {
            writeln!(f, "  {x}")?;
        }
        if let Some(d) = &self.dump {
            writeln!(f, "  pre-GC heap dumped to {}", d.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for GcFault {}

/// What a collection did that the VM must act on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcOutcome {
    /// Ephemerons fired or weak slots were nilled: signal the finalization
    /// semaphore (special object 41).
    pub signal_finalization: bool,
    /// Ephemerons queued for mourning by this collection.
    pub mourners_queued: usize,
    /// Weak slots set to nil.
    pub weak_slots_nilled: usize,
}

/// One collection's measurements (also one line of the GC log).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GcRecord {
    pub kind: Option<GcKind>,
    /// Start, µs since the heap was created.
    pub start_us: u64,
    pub duration_us: u64,
    /// (phase name, µs).
    pub phases: Vec<(String, u64)>,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub objects_survived: u64,
    pub objects_tenured: u64,
    /// Compaction passes (full GC only).
    pub passes: u32,
}

/// Counters for `vmParameterAt:` and tools.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcStats {
    pub scavenges: u64,
    pub full_gcs: u64,
    /// Total µs spent in scavenges / full GCs.
    pub scavenge_us: u64,
    pub full_gc_us: u64,
    pub last_scavenge_us: u64,
    pub last_full_gc_us: u64,
    /// Objects tenured by all scavenges, and by the last one.
    pub tenured_objects: u64,
    pub last_tenured_objects: u64,
    /// Compaction passes over all full GCs.
    pub compaction_passes: u64,
    pub eden_bytes: u64,
    pub survivor_bytes: u64,
    /// Bytes in segments (objects, free chunks and unused tails).
    pub old_space_bytes: u64,
    /// Bytes in old-space free chunks plus unused segment tails.
    pub old_space_free_bytes: u64,
    /// Bytes used in new space now.
    pub young_used_bytes: u64,
    pub segments: u64,
    pub remembered_set_size: u64,
    pub mourn_queue_size: u64,
    pub allocations: u64,
}

impl GcStats {
    /// The value of `vmParameterAt: i` for the memory manager's parameters,
    /// with the OpenSmalltalk VM's indices: 1 old-space bytes, 2 bytes used in
    /// new space, 7 full GCs, 8 ms in full GCs, 9 scavenges, 10 ms in
    /// scavenges, 11 tenured objects, 21 remembered set size, 44 eden bytes,
    /// 45 desired eden bytes. `None` for indices the GC does not own.
    pub fn vm_parameter(&self, i: usize) -> Option<i64> {
        let v = match i {
            1 => self.old_space_bytes,
            2 => self.young_used_bytes,
            7 => self.full_gcs,
            8 => self.full_gc_us / 1000,
            9 => self.scavenges,
            10 => self.scavenge_us / 1000,
            11 => self.tenured_objects,
            21 => self.remembered_set_size,
            44 | 45 => self.eden_bytes,
            _ => return None,
        };
        Some(v as i64)
    }
}

/// A deliberately planted compactor bug (for testing the checking tools).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedFault {
    /// `SPROCKET_GC_FAULT=compact-upward`: when a compaction pass finds
    /// nothing left to do after an earlier pass compacted everything, re-plan
    /// from stale state and move objects upward (the OpenSmalltalk 2019 bug).
    CompactUpward,
}

impl PlantedFault {
    /// Reads `SPROCKET_GC_FAULT` (once per heap, at creation).
    pub fn from_env() -> Option<PlantedFault> {
        match std::env::var("SPROCKET_GC_FAULT").ok().as_deref() {
            Some("compact-upward") => Some(PlantedFault::CompactUpward),
            _ => None,
        }
    }
}

/// The collector's mutable state inside a heap.
#[derive(Debug)]
pub(crate) struct GcState {
    pub config: GcConfig,
    pub scavenge_requested: bool,
    pub full_requested: bool,
    pub allocs_since_stress: u64,
    pub scavenges_since_stress_full: u64,
    /// Old-space bytes in use after the last full GC (or at configuration).
    pub old_used_at_full: usize,
    pub stats: GcStats,
    /// Fired ephemerons waiting for primitive 172.
    pub mourn_queue: VecDeque<Oop>,
    pub fault: Option<PlantedFault>,
    pub created: std::time::Instant,
    pub dumps_written: u32,
    /// Set while a collection runs (allocation must not request again).
    pub collecting: bool,
    /// Old space crossed into the low-space margin; taken by the VM.
    pub low_space: bool,
    /// The low-space signal fired and has not been re-armed.
    pub low_space_fired: bool,
}

use crate::oop::Oop;

impl GcState {
    pub fn new(fault: Option<PlantedFault>) -> GcState {
        GcState {
            config: GcConfig {
                eden_bytes: 0,
                ..GcConfig::default()
            },
            scavenge_requested: false,
            full_requested: false,
            low_space: false,
            low_space_fired: false,
            allocs_since_stress: 0,
            scavenges_since_stress_full: 0,
            old_used_at_full: 0,
            stats: GcStats::default(),
            mourn_queue: VecDeque::new(),
            fault,
            created: std::time::Instant::now(),
            dumps_written: 0,
            collecting: false,
        }
    }
}
