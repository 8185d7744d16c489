//! Indices into the special objects array and the fixed field layouts of the
//! objects the VM reads directly. Numbers follow the OpenSmalltalk VM, so real
//! images and images we build agree.

/// Special objects array indices (0-based).
pub mod so {
    pub const NIL: usize = 0;
    pub const FALSE: usize = 1;
    pub const TRUE: usize = 2;
    pub const SCHEDULER_ASSOCIATION: usize = 3;
    pub const CLASS_BITMAP: usize = 4;
    pub const CLASS_SMALL_INTEGER: usize = 5;
    pub const CLASS_BYTE_STRING: usize = 6;
    pub const CLASS_ARRAY: usize = 7;
    pub const SMALLTALK_DICTIONARY: usize = 8;
    pub const CLASS_FLOAT: usize = 9;
    pub const CLASS_METHOD_CONTEXT: usize = 10;
    pub const CLASS_POINT: usize = 12;
    pub const CLASS_LARGE_POSITIVE_INTEGER: usize = 13;
    pub const THE_DISPLAY: usize = 14;
    pub const CLASS_MESSAGE: usize = 15;
    pub const CLASS_COMPILED_METHOD: usize = 16;
    pub const THE_LOW_SPACE_SEMAPHORE: usize = 17;
    pub const CLASS_SEMAPHORE: usize = 18;
    pub const CLASS_CHARACTER: usize = 19;
    pub const SELECTOR_DOES_NOT_UNDERSTAND: usize = 20;
    pub const SELECTOR_CANNOT_RETURN: usize = 21;
    pub const PROCESS_SIGNALING_LOW_SPACE: usize = 22;
    pub const SPECIAL_SELECTORS: usize = 23;
    pub const CHARACTER_TABLE: usize = 24;
    pub const SELECTOR_MUST_BE_BOOLEAN: usize = 25;
    pub const CLASS_BYTE_ARRAY: usize = 26;
    pub const CLASS_PROCESS: usize = 27;
    pub const COMPACT_CLASSES: usize = 28;
    pub const THE_TIMER_SEMAPHORE: usize = 29;
    pub const THE_INTERRUPT_SEMAPHORE: usize = 30;
    pub const SELECTOR_CANNOT_INTERPRET: usize = 34;
    pub const CLASS_BLOCK_CLOSURE: usize = 36;
    pub const CLASS_FULL_BLOCK_CLOSURE: usize = 37;
    pub const EXTERNAL_OBJECTS_ARRAY: usize = 38;
    pub const CLASS_MUTEX: usize = 39;
    pub const THE_FINALIZATION_SEMAPHORE: usize = 41;
    pub const CLASS_LARGE_NEGATIVE_INTEGER: usize = 42;
    pub const SELECTOR_ABOUT_TO_RETURN: usize = 48;
    pub const SELECTOR_RUN_WITH_IN: usize = 49;
    pub const SELECTOR_ATTEMPT_TO_ASSIGN: usize = 50;
    pub const PRIM_ERR_TABLE: usize = 51;
    pub const SELECTOR_UNKNOWN_BYTECODE: usize = 57;
    pub const SELECTOR_COUNTER_TRIPPED: usize = 58;
    pub const SELECTOR_SISTA_TRAP: usize = 59;

    /// Names for reports, indexed like the array (empty where unused).
    pub const NAMES: [&str; 60] = [
        "nil",
        "false",
        "true",
        "schedulerAssociation",
        "ClassBitmap",
        "ClassSmallInteger",
        "ClassByteString",
        "ClassArray",
        "Smalltalk",
        "ClassFloat",
        "ClassMethodContext",
        "(unused 11)",
        "ClassPoint",
        "ClassLargePositiveInteger",
        "TheDisplay",
        "ClassMessage",
        "ClassCompiledMethod",
        "TheLowSpaceSemaphore",
        "ClassSemaphore",
        "ClassCharacter",
        "SelectorDoesNotUnderstand",
        "SelectorCannotReturn",
        "ProcessSignalingLowSpace",
        "SpecialSelectors",
        "CharacterTable",
        "SelectorMustBeBoolean",
        "ClassByteArray",
        "ClassProcess",
        "CompactClasses",
        "TheTimerSemaphore",
        "TheInterruptSemaphore",
        "(unused 31)",
        "(unused 32)",
        "(unused 33)",
        "SelectorCannotInterpret",
        "(unused 35)",
        "ClassBlockClosure",
        "ClassFullBlockClosure",
        "ExternalObjectsArray",
        "ClassMutex",
        "ProcessInExternalCodeTag",
        "TheFinalizationSemaphore",
        "ClassLargeNegativeInteger",
        "ClassExternalAddress",
        "ClassExternalStructure",
        "ClassExternalData",
        "ClassExternalFunction",
        "ClassExternalLibrary",
        "SelectorAboutToReturn",
        "SelectorRunWithIn",
        "SelectorAttemptToAssign",
        "PrimErrTableIndex",
        "ClassAlien",
        "InvokeCallbackSelector",
        "ClassUnsafeAlien",
        "ClassWeakFinalizer",
        "ForeignCallbackProcess",
        "SelectorUnknownBytecode",
        "SelectorCounterTripped",
        "SelectorSistaTrap",
    ];
}

/// Behavior (class) fields.
pub mod class {
    pub const SUPERCLASS: usize = 0;
    pub const METHOD_DICT: usize = 1;
    /// SmallInteger: `instSpec << 16 | instSize`.
    pub const FORMAT: usize = 2;
    /// Squeak's Class layout: instanceVariables, organization, subclasses, name...
    pub const SQUEAK_NAME: usize = 6;
}

/// MethodDictionary: tally, the values Array, then the selector keys indexed.
pub mod method_dict {
    pub const TALLY: usize = 0;
    pub const VALUES: usize = 1;
    pub const FIRST_SELECTOR: usize = 2;
}

pub mod association {
    pub const KEY: usize = 0;
    pub const VALUE: usize = 1;
}

pub mod scheduler {
    pub const PROCESS_LISTS: usize = 0;
    pub const ACTIVE_PROCESS: usize = 1;
}

pub mod link {
    pub const NEXT_LINK: usize = 0;
}

pub mod linked_list {
    pub const FIRST_LINK: usize = 0;
    pub const LAST_LINK: usize = 1;
}

pub mod semaphore {
    pub const EXCESS_SIGNALS: usize = 2;
}

pub mod process {
    pub const NEXT_LINK: usize = 0;
    pub const SUSPENDED_CONTEXT: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const MY_LIST: usize = 3;
}

pub mod context {
    pub const SENDER: usize = 0;
    pub const PC: usize = 1;
    pub const STACK_POINTER: usize = 2;
    pub const METHOD: usize = 3;
    pub const CLOSURE_OR_NIL: usize = 4;
    pub const RECEIVER: usize = 5;
    /// First argument/temporary/stack slot.
    pub const TEMP_FRAME_START: usize = 6;
    /// Stack slots of a small and a large frame.
    pub const SMALL_FRAME_SLOTS: usize = 16;
    pub const LARGE_FRAME_SLOTS: usize = 56;
}

pub mod closure {
    pub const OUTER_CONTEXT: usize = 0;
    /// V3 closures: the start pc; full closures: the CompiledBlock.
    pub const START_PC_OR_METHOD: usize = 1;
    pub const NUM_ARGS: usize = 2;
    /// First copied value of a BlockClosure.
    pub const FIRST_COPIED_VALUE: usize = 3;
    /// Full closures carry the receiver before their copied values.
    pub const FULL_RECEIVER: usize = 3;
    pub const FULL_FIRST_COPIED_VALUE: usize = 4;
}

pub mod message {
    pub const SELECTOR: usize = 0;
    pub const ARGUMENTS: usize = 1;
    pub const LOOKUP_CLASS: usize = 2;
}

pub mod point {
    pub const X: usize = 0;
    pub const Y: usize = 1;
}
