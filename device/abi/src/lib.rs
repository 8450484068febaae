//! The contract between pmemvm and the guests it runs.
//!
//! One definition, used by both sides: the VMM (`vmm`) and the guest runtime
//! (`guest-tests/sdk`). Everything here is `#![no_std]` plain data: port
//! numbers, hypercall numbers, the guest-physical layout, the boot-info block,
//! the hypercall mailbox and the ELF header section a guest carries, and the
//! vocabulary of the persistency model ([`persistence`]) that the device
//! model and the traces share.
//!
//! # How a guest talks to the VMM
//!
//! * **Console**: bytes written to port [`PORT_DEBUGCON`] (QEMU debugcon), or
//!   whole buffers with the [`hc::CONSOLE_WRITE`] hypercall.
//! * **Exit**: a 32-bit status written to port [`PORT_EXIT`] (QEMU
//!   isa-debug-exit). pmemvm exits with that status itself (QEMU would exit
//!   with `(status << 1) | 1`).
//! * **Hypercalls**: the guest fills the [`Mailbox`] at [`layout::MAILBOX`]
//!   (number and up to six arguments, guest-physical addresses for buffers),
//!   then writes any byte to port [`PORT_HYPERCALL`]. The VMM answers in
//!   `Mailbox::ret`. Every buffer is bounds-checked by the VMM.
//! * **Exceptions** the guest cannot handle are reported by its ring-0 stub
//!   with a write to [`PORT_FAULT`] and the details in registers (see
//!   [`fault`]).

#![no_std]
#![warn(missing_docs)]

pub mod acpi;
pub mod codec;
pub mod persistence;
pub mod shown;

pub use codec::Plain;
use codec::plain;

/// QEMU debugcon: each byte written is a console byte.
pub const PORT_DEBUGCON: u16 = 0xe9;
/// QEMU isa-debug-exit: a 32-bit write ends the run with that status.
pub const PORT_EXIT: u16 = 0xf4;
/// Doorbell of the hypercall mailbox.
pub const PORT_HYPERCALL: u16 = 0xf0;
/// Written by the guest's ring-0 stub when an exception cannot be handled.
pub const PORT_FAULT: u16 = 0xf1;
/// Doorbell of the persistent-memory event ring (see [`pmem`]).
pub const PORT_PMEM_DOORBELL: u16 = 0xf2;

/// Guest-physical layout shared by the VMM and the runtime.
pub mod layout {
    /// The null page: never mapped, so that null dereferences fault.
    pub const NULL_PAGE_END: u64 = 0x1000;
    /// Global descriptor table.
    pub const GDT: u64 = 0x1000;
    /// Interrupt descriptor table (256 gates of 16 bytes).
    pub const IDT: u64 = 0x2000;
    /// Task-state segment.
    pub const TSS: u64 = 0x3000;
    /// The [`BootInfo`](crate::BootInfo) block.
    pub const BOOT_INFO: u64 = 0x4000;
    /// The hypercall [`Mailbox`](crate::Mailbox).
    pub const MAILBOX: u64 = 0x5000;
    /// The persistent-memory event ring ([`pmem::Ring`](crate::pmem::Ring)).
    pub const PMEM_RING: u64 = 0x6000;
    /// Bottom of the ring-0 stack (exceptions from ring 3 switch to it).
    pub const RING0_STACK_BOTTOM: u64 = 0x8000;
    /// Top of the ring-0 stack (`TSS.rsp0`).
    pub const RING0_STACK_TOP: u64 = 0x10000;
    /// PML4 of the initial page tables; the PDPT and page directories follow.
    pub const PML4: u64 = 0x10000;
    /// PDPT of the initial page tables.
    pub const PDPT: u64 = 0x11000;
    /// First page directory (one per GiB of RAM, at most [`MAX_RAM_GIB`]).
    pub const PD: u64 = 0x12000;
    /// Page table of the first 2 MiB (4-KiB pages, the null page absent).
    pub const PT0: u64 = 0x12000 + 0x1000 * MAX_RAM_GIB;
    /// Where the VMM writes the ACPI tables (RSDP first).
    pub const ACPI: u64 = 0xe0000;
    /// End of the ACPI area.
    pub const ACPI_END: u64 = 0x100000;
    /// Lowest address a guest ELF segment may be loaded at.
    pub const LOAD_MIN: u64 = 0x100000;
    /// Largest guest RAM the initial page tables can map, in GiB.
    pub const MAX_RAM_GIB: u64 = 3;
    /// Largest guest RAM the initial page tables can map, in bytes.
    pub const MAX_RAM: u64 = MAX_RAM_GIB << 30;
    /// Guest-physical address of the first NVDIMM: above RAM and the 32-bit hole.
    pub const NVDIMM_BASE: u64 = 0x1_0000_0000;
    /// Largest NVDIMM (64 GiB): `--nvdimm size=` and the `device.size` of a
    /// trace are refused above it.
    pub const MAX_NVDIMM_SIZE: u64 = 64 << 30;

    /// Ring-0 code selector.
    pub const KERNEL_CS: u16 = 0x08;
    /// Ring-0 data selector.
    pub const KERNEL_DS: u16 = 0x10;
    /// Ring-3 data selector (RPL 3).
    pub const USER_DS: u16 = 0x18 | 3;
    /// Ring-3 code selector (RPL 3).
    pub const USER_CS: u16 = 0x20 | 3;
    /// TSS selector.
    pub const TSS_SEL: u16 = 0x28;
}

/// Magic of the [`BootInfo`] block: `"PMEMBOOT"`.
pub const BOOT_MAGIC: u64 = u64::from_le_bytes(*b"PMEMBOOT");
/// Version of this ABI. A guest built for another version is refused.
pub const ABI_VERSION: u32 = 1;

/// What the guest is asked to do.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run the named scenario (recording when it touches the NVDIMM).
    Run = 0,
    /// Report every scenario with [`hc::SCENARIO`], then exit 0.
    List = 1,
    /// Recover from a crash image and check the promises.
    Verify = 2,
}

impl Mode {
    /// The mode's name in messages: `run`, `list` or `verify`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Run => "run",
            Mode::List => "list",
            Mode::Verify => "verify",
        }
    }

    /// The mode for a raw value, if it names one.
    pub fn from_raw(raw: u32) -> Option<Mode> {
        match raw {
            0 => Some(Mode::Run),
            1 => Some(Mode::List),
            2 => Some(Mode::Verify),
            _ => None,
        }
    }
}

/// Length of the name fields of [`BootInfo`].
pub const NAME_LEN: usize = 64;

/// Written by the VMM at [`layout::BOOT_INFO`]; its address is in `rdi` at entry.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BootInfo {
    /// [`BOOT_MAGIC`].
    pub magic: u64,
    /// [`ABI_VERSION`].
    pub abi_version: u32,
    /// A [`Mode`] as `u32`.
    pub mode: u32,
    /// Size of guest RAM in bytes (identity-mapped from 0).
    pub ram_size: u64,
    /// First free guest-physical byte after the loaded ELF (page-aligned).
    pub free_start: u64,
    /// Guest-physical address of the PML4 (CR3).
    pub cr3: u64,
    /// Guest-physical address of the ACPI RSDP, 0 when there is none.
    pub rsdp: u64,
    /// Seed of the workload.
    pub seed: u64,
    /// In verify mode, guest-physical address of a [`VerifyHeader`]
    /// followed by its promises; 0 otherwise.
    pub verify: u64,
    /// Scenario name, NUL-padded UTF-8.
    pub scenario: [u8; NAME_LEN],
    /// Variant name, NUL-padded UTF-8.
    pub variant: [u8; NAME_LEN],
}

plain!(BootInfo, 192, {
    magic: 0, abi_version: 8, mode: 12, ram_size: 16, free_start: 24, cr3: 32,
    rsdp: 40, seed: 48, verify: 56, scenario: 64, variant: 128,
});

impl BootInfo {
    /// The scenario name (up to the first NUL).
    pub fn scenario(&self) -> &str {
        name_str(&self.scenario)
    }

    /// The variant name (up to the first NUL).
    pub fn variant(&self) -> &str {
        name_str(&self.variant)
    }
}

/// A NUL-padded name as a string; invalid UTF-8 reads as empty.
pub fn name_str(bytes: &[u8; NAME_LEN]) -> &str {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
    core::str::from_utf8(&bytes[..len]).unwrap_or("")
}

/// The hypercall mailbox at [`layout::MAILBOX`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Mailbox {
    /// Hypercall number (see [`hc`]).
    pub nr: u64,
    /// Arguments.
    pub args: [u64; 6],
    /// Result: 0 on success, otherwise an error code of [`hc`].
    pub ret: u64,
}

plain!(Mailbox, 64, { nr: 0, args: 8, ret: 56 });

/// Hypercall numbers and result codes.
pub mod hc {
    /// Console output: `args = [gpa, len]`.
    pub const CONSOLE_WRITE: u64 = 1;
    /// In list mode, one scenario: `args = [name_gpa, name_len, desc_gpa,
    /// desc_len, variants_gpa, variants_len]`. The variants are UTF-8
    /// text, one line per variant: its name, a tab, its one-line
    /// description (`variants_len` 0: the guest names none).
    pub const SCENARIO: u64 = 2;
    /// The untraced setup phase is over: the NVDIMM content becomes the
    /// initial media and recording starts. No arguments.
    pub const SETUP_DONE: u64 = 3;
    /// A mark in the trace: `args = [gpa of a MarkArgs]`.
    pub const MARK: u64 = 4;
    /// A durability promise: `args = [gpa of a PromiseArgs]`.
    pub const PROMISE: u64 = 5;
    /// Verify mode's verdict: `args = [passed (1) or failed (0), msg_gpa,
    /// msg_len, check_gpa, check_len]`. The message is free text (what was
    /// lost, where); the check is the stable name of the check that failed
    /// (UTF-8, at most [`MAX_CHECK_LEN`] bytes), by which failures are
    /// grouped. A check length of 0 means unnamed (a passing verdict has
    /// none).
    pub const VERDICT: u64 = 6;
    /// A check the guest failed in record mode (a finding, e.g. an mtime
    /// that did not change): `args = [msg_gpa, msg_len, check_gpa,
    /// check_len]`, the check named as in [`VERDICT`].
    pub const FINDING: u64 = 7;
    /// Verify mode, booted and about to read its crash image: the VMM may
    /// snapshot the VM here and restore it for the next image. No arguments.
    pub const SNAPSHOT: u64 = 8;

    /// Success.
    pub const OK: u64 = 0;
    /// Unknown hypercall number.
    pub const UNKNOWN: u64 = 1;
    /// A buffer outside guest RAM or too long.
    pub const BAD_BUFFER: u64 = 2;
    /// Not allowed in this mode or phase.
    pub const BAD_STATE: u64 = 3;

    /// Longest buffer a hypercall accepts.
    pub const MAX_BUFFER: u64 = 1 << 20;
    /// Longest check name of [`VERDICT`] and [`FINDING`], in bytes.
    pub const MAX_CHECK_LEN: u64 = 128;
    /// Longest label of [`MARK`], in bytes: the hypercall refuses a longer
    /// one ([`BAD_BUFFER`]), and so do the trace writer and reader.
    pub const MAX_LABEL_LEN: u64 = 256;
    /// Longest message of [`VERDICT`] and [`FINDING`] (and name and
    /// description of [`SCENARIO`]) the VMM keeps, in bytes: the rest is
    /// cut.
    pub const MAX_MESSAGE_LEN: u64 = 4096;
    /// Most scenarios a guest may report in list mode.
    pub const MAX_SCENARIOS: usize = 1024;
    const _: () = assert!(MAX_CHECK_LEN <= MAX_BUFFER);
    const _: () = assert!(MAX_LABEL_LEN <= MAX_BUFFER);
    const _: () = assert!(MAX_MESSAGE_LEN <= MAX_BUFFER);
}

/// Exception reports on [`PORT_FAULT`].
///
/// The ring-0 stub loads `rdi` = vector (plus [`NESTED`](fault::NESTED) when a page fault
/// hit the handler of the same task), `rsi` = error code, `rdx` = faulting
/// RIP, `rcx` = CR2, then writes to the port.
pub mod fault {
    /// Added to the vector of a page fault inside its own task's fault handler.
    pub const NESTED: u64 = 0x100;
    /// Added to the vector when no fault handler is registered.
    pub const NO_HANDLER: u64 = 0x200;
    /// Added to `#UD` (6) when the faulting instruction is `ud2` with an
    /// unknown system-call number.
    pub const BAD_SYSCALL: u64 = 0x400;
}

/// System calls: ring 3 executes `ud2` with the number in `rax` and the
/// argument in `rdi`; the ring-0 `#UD` stub performs it and returns past.
pub mod syscall {
    /// `invlpg [rdi]`.
    pub const INVLPG: u64 = 1;
    /// `mov cr3, rdi` (flushes the TLB).
    pub const WRITE_CR3: u64 = 2;
}

/// Magic of the [`GuestHeader`]: `"PMEMVMGH"`.
pub const HEADER_MAGIC: u64 = u64::from_le_bytes(*b"PMEMVMGH");
/// Name of the ELF section holding the [`GuestHeader`].
pub const HEADER_SECTION: &str = ".pmemvm_header";
/// Number of exception vectors a guest provides stubs for.
pub const VECTORS: usize = 32;

/// What a guest ELF tells the VMM in its [`HEADER_SECTION`] section.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct GuestHeader {
    /// [`HEADER_MAGIC`].
    pub magic: u64,
    /// [`ABI_VERSION`].
    pub abi_version: u32,
    /// Number of entries of `vectors` ([`VECTORS`]).
    pub nvectors: u32,
    /// Address of the ring-0 handler of each exception vector.
    pub vectors: [u64; VECTORS],
}

plain!(GuestHeader, 272, { magic: 0, abi_version: 8, nvectors: 12, vectors: 16 });

/// Value of an absent optional field in [`MarkArgs`].
pub const NONE: u64 = u64::MAX;

/// Arguments of [`hc::MARK`].
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MarkArgs {
    /// Guest-physical address of the label (UTF-8).
    pub label_gpa: u64,
    /// Length of the label.
    pub label_len: u64,
    /// File (inode number) or [`NONE`].
    pub file: u64,
    /// Page index or [`NONE`].
    pub page: u64,
    /// Operation id or [`NONE`].
    pub op: u64,
    /// Device offset of the range concerned or [`NONE`].
    pub range_offset: u64,
    /// Length of that range (0 when there is none).
    pub range_len: u64,
}

plain!(MarkArgs, 56, {
    label_gpa: 0, label_len: 8, file: 16, page: 24, op: 32, range_offset: 40, range_len: 48,
});

/// Arguments of [`hc::PROMISE`]: the guest declares durable `len` bytes of
/// `file` at `offset`, stored at the device range given, by operation `op`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromiseArgs {
    /// File (inode number).
    pub file: u64,
    /// Offset in the file.
    pub offset: u64,
    /// Length.
    pub len: u64,
    /// Operation id of the sync that made the promise.
    pub op: u64,
    /// Device offset where the bytes live.
    pub range_offset: u64,
    /// Length of that device range.
    pub range_len: u64,
}

plain!(PromiseArgs, 48, {
    file: 0, offset: 8, len: 16, op: 24, range_offset: 32, range_len: 40,
});

/// What verify mode is given, at [`BootInfo::verify`]: the id of the last
/// operation started before the crash point and the promises made before
/// it; `promises` entries of [`PromiseArgs`] follow the header, then a
/// bitmap of `written_bitmap_bytes` bytes with one bit per 4-KiB page of the
/// NVDIMM (bit `p % 8` of byte `p / 8`), set when a traced store wrote that
/// page before the crash point: a clear bit means the page holds its
/// initial content (what the setup phase left) in every crash image.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VerifyHeader {
    /// Id of the last operation started before the crash point (0: none).
    pub last_op: u64,
    /// Number of promises that follow.
    pub promises: u64,
    /// Length of the written-pages bitmap after the promises.
    pub written_bitmap_bytes: u64,
}

plain!(VerifyHeader, 24, { last_op: 0, promises: 8, written_bitmap_bytes: 16 });

/// The persistent-memory event ring.
///
/// KVM sees every store to the NVDIMM (it is mapped read-only at the KVM
/// level) but no flush, no fence, and cannot tell a non-temporal store or a
/// locked read-modify-write from a plain store. The guest's
/// persistent-memory API therefore appends an [`Entry`](pmem::Entry) here *before* it
/// executes each such instruction; the VMM drains the ring at every exit,
/// before it handles the exit, so events keep program order. `NTSTORE` and
/// `RMW` entries announce the very next store exit (same address and size).
/// A full ring and every fence ring [`PORT_PMEM_DOORBELL`].
pub mod pmem {
    /// Number of entries.
    pub const ENTRIES: u64 = 254;

    /// `clwb` of the line holding `addr`.
    pub const CLWB: u32 = 1;
    /// `clflushopt`.
    pub const CLFLUSHOPT: u32 = 2;
    /// `clflush`.
    pub const CLFLUSH: u32 = 3;
    /// `sfence`.
    pub const SFENCE: u32 = 4;
    /// `mfence`.
    pub const MFENCE: u32 = 5;
    /// A locked read-modify-write (`xchg`) of `size` bytes at `addr` follows.
    pub const RMW: u32 = 6;
    /// A non-temporal store (`movnti`) of `size` bytes at `addr` follows.
    pub const NTSTORE: u32 = 7;

    /// One recorded operation; `addr` is guest-physical.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct Entry {
        /// One of the kinds above.
        pub kind: u32,
        /// Size in bytes (NT stores and RMWs).
        pub size: u32,
        /// Guest-physical address.
        pub addr: u64,
    }

    crate::codec::plain!(Entry, 16, { kind: 0, size: 4, addr: 8 });

    /// The ring at [`layout::PMEM_RING`](crate::layout::PMEM_RING).
    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    pub struct Ring {
        /// Entries produced by the guest so far (never wraps in practice).
        pub head: u64,
        /// Entries consumed by the VMM so far.
        pub tail: u64,
        /// The entries, indexed by count modulo [`ENTRIES`].
        pub entries: [Entry; ENTRIES as usize],
    }

    crate::codec::plain!(Ring, 4080, { head: 0, tail: 8, entries: 16 });
    const _: () = assert!(core::mem::size_of::<Ring>() <= 4096);
}
