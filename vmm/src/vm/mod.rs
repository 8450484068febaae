//! A KVM virtual machine with one vCPU and identity-mapped guest RAM.

use crate::boot::{gdt, paging, regs};
use crate::cpu_dump::CpuDump;
use crate::elf::GuestElf;
use crate::error::VmmError;
use kvm_bindings::{
    KVM_MAX_CPUID_ENTRIES, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, kvm_userspace_memory_region,
};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use pmemvm_abi::{BootInfo, Plain, layout};
use std::ops::Range;
use vm_memory::bitmap::AtomicBitmap;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryRegion};

mod snapshot;

pub use snapshot::{RamSnapshot, VcpuState};

/// Guest RAM; its bitmap records the pages the VMM writes (KVM logs only
/// the guest's).
type Ram = vm_memory::GuestMemoryMmap<AtomicBitmap>;

/// Smallest guest RAM accepted.
pub const MIN_RAM: u64 = 8 << 20;
/// Largest guest RAM accepted (what the initial page tables map).
pub const MAX_RAM: u64 = layout::MAX_RAM;
/// Memslot of guest RAM (of the RAM below the unlogged window, if any).
pub const RAM_SLOT: u32 = 0;
/// Memslot of the RAM window whose writes KVM does not log.
const RAM_WINDOW_SLOT: u32 = 2;
/// Memslot of the RAM above the unlogged window.
const RAM_HIGH_SLOT: u32 = 3;
const PAGE: u64 = 4096;
/// Where KVM may put its TSS on Intel (outside guest RAM).
const KVM_TSS_ADDRESS: usize = 0xfffb_d000;

/// A VM: KVM handles, guest RAM and the vCPU.
pub struct Vm {
    kvm: Kvm,
    /// The MSRs saved with the vCPU's state, once found.
    saved_msrs: Option<Vec<u32>>,
    fd: VmFd,
    vcpu: VcpuFd,
    ram: Ram,
    ram_size: u64,
    log_dirty_ram: bool,
    /// With `log_dirty_ram`: RAM KVM does not log (page-aligned bytes).
    unlogged: Option<Range<u64>>,
    /// The RAM memslots registered now: slot, guest-physical address.
    ram_slots: Vec<(u32, u64)>,
    /// KVM copies the registers to `kvm_run` at every exit (`KVM_CAP_SYNC_REGS`).
    sync_regs: bool,
}

/// How a memslot is mapped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotFlags {
    /// Guest stores exit (`KVM_MEM_READONLY`).
    pub readonly: bool,
    /// KVM logs the pages the guest writes (`KVM_MEM_LOG_DIRTY_PAGES`).
    pub log_dirty: bool,
}

impl SlotFlags {
    fn bits(self) -> u32 {
        let mut bits = 0;
        if self.readonly {
            bits |= KVM_MEM_READONLY;
        }
        if self.log_dirty {
            bits |= KVM_MEM_LOG_DIRTY_PAGES;
        }
        bits
    }
}

impl Vm {
    /// Opens `/dev/kvm` and creates a VM with `ram_size` bytes of RAM and one
    /// vCPU; `log_dirty` tracks the RAM pages the guest writes.
    pub fn new(ram_size: u64, log_dirty: bool) -> Result<Vm, VmmError> {
        check_ram_size(ram_size)?;
        let kvm = Kvm::new().map_err(VmmError::KvmUnavailable)?;
        let fd = kvm.create_vm().map_err(VmmError::kvm("create VM"))?;
        // Needed by VMX; PVM and SVM ignore it.
        if let Err(e) = fd.set_tss_address(KVM_TSS_ADDRESS) {
            log::debug!("KVM_SET_TSS_ADDR: {e} (ignored)");
        }
        let size = usize::try_from(ram_size).map_err(|_| VmmError::Memory("RAM size".into()))?;
        let ram = Ram::from_ranges(&[(GuestAddress(0), size)])
            .map_err(|e| VmmError::Memory(format!("cannot map {ram_size} bytes: {e}")))?;
        let vcpu = fd.create_vcpu(0).map_err(VmmError::kvm("create vCPU"))?;
        let cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(VmmError::kvm("get supported CPUID"))?;
        vcpu.set_cpuid2(&cpuid)
            .map_err(VmmError::kvm("set CPUID"))?;
        let sync_regs = kvm.check_extension(kvm_ioctls::Cap::SyncRegs);
        let mut vcpu = vcpu;
        if sync_regs {
            vcpu.set_sync_valid_reg(kvm_ioctls::SyncReg::Register);
        }
        let mut vm = Vm {
            kvm,
            saved_msrs: None,
            fd,
            vcpu,
            ram,
            ram_size,
            log_dirty_ram: false,
            unlogged: None,
            ram_slots: Vec::new(),
            sync_regs,
        };
        vm.log_dirty_ram = log_dirty;
        vm.register_ram()?;
        Ok(vm)
    }

    /// Registers the RAM memslot (again: removing and re-adding it makes KVM
    /// drop shadow page tables built from RAM the VMM has since rewritten,
    /// see PLATFORM.md).
    pub fn register_ram(&mut self) -> Result<(), VmmError> {
        for (slot, gpa) in std::mem::take(&mut self.ram_slots) {
            self.remove_slot(slot, gpa)?;
        }
        let host = self
            .ram
            .get_host_address(GuestAddress(0))
            .map_err(|e| VmmError::Memory(e.to_string()))?;
        for (slot, range, log_dirty) in self.ram_layout() {
            let flags = SlotFlags {
                readonly: false,
                log_dirty,
            };
            // SAFETY: `ram` maps `ram_size` bytes from `host` and lives as
            // long as the VM; `range` lies within them; vm-memory gives
            // volatile access to them, never references.
            unsafe {
                self.set_slot(
                    slot,
                    range.start,
                    host.add(range.start as usize),
                    range.end - range.start,
                    flags,
                )?
            };
            self.ram_slots.push((slot, range.start));
        }
        Ok(())
    }

    /// The RAM memslots: slot, guest-physical range, whether KVM logs it.
    fn ram_layout(&self) -> Vec<(u32, Range<u64>, bool)> {
        let log = self.log_dirty_ram;
        let Some(window) = self.unlogged.clone() else {
            return vec![(RAM_SLOT, 0..self.ram_size, log)];
        };
        [
            (RAM_SLOT, 0..window.start, log),
            (RAM_HIGH_SLOT, window.end..self.ram_size, log),
            (RAM_WINDOW_SLOT, window, false),
        ]
        .into_iter()
        .filter(|(_, range, _)| !range.is_empty())
        .collect()
    }

    /// Stops KVM logging the guest's writes to `window` of RAM (bytes,
    /// page-aligned), for a caller that restores all of it after every run
    /// instead: a logged page costs a write-protection fault the first time
    /// the guest writes it after each [`Vm::ram_dirty_pages`]. Registers
    /// the RAM memslots again.
    pub fn set_unlogged_window(&mut self, window: Range<u64>) -> Result<(), VmmError> {
        if !self.log_dirty_ram
            || window.is_empty()
            || !window.start.is_multiple_of(PAGE)
            || !window.end.is_multiple_of(PAGE)
            || window.end > self.ram_size
        {
            return Err(VmmError::Memory(format!(
                "bad unlogged RAM window {:#x}..{:#x}",
                window.start, window.end
            )));
        }
        self.unlogged = Some(window);
        self.register_ram()
    }

    /// Numbers of the RAM pages the guest wrote since the last call, outside
    /// the unlogged window; the VM must log dirty RAM.
    pub fn ram_dirty_pages(&self) -> Result<Vec<u64>, VmmError> {
        let mut pages = Vec::new();
        for (slot, range, log) in self.ram_layout() {
            if log {
                let first = range.start / PAGE;
                pages.extend(
                    self.dirty_pages(slot, range.end - range.start)?
                        .into_iter()
                        .map(|p| p + first),
                );
            }
        }
        Ok(pages)
    }

    /// Page numbers, counted from the start of `slot` (of `size` bytes),
    /// written since the last call; the slot must log dirty pages.
    pub fn dirty_pages(&self, slot: u32, size: u64) -> Result<Vec<u64>, VmmError> {
        let size = usize::try_from(size).map_err(|_| VmmError::Memory("slot size".into()))?;
        let bitmap = self
            .fd
            .get_dirty_log(slot, size)
            .map_err(VmmError::kvm("get dirty log"))?;
        Ok(set_bits(&bitmap).collect())
    }

    /// Registers (or re-registers) memslot `slot` at `gpa`, backed by `size`
    /// bytes at `host`; read-only slots make every guest store an MMIO exit.
    ///
    /// # Safety
    /// `host` must stay mapped for `size` bytes until the slot is removed or
    /// the VM is dropped, and no Rust reference to those bytes may be alive
    /// while the vCPU runs (the guest writes them behind Rust's back).
    pub unsafe fn set_slot(
        &self,
        slot: u32,
        gpa: u64,
        host: *mut u8,
        size: u64,
        flags: SlotFlags,
    ) -> Result<(), VmmError> {
        let region = kvm_userspace_memory_region {
            slot,
            flags: flags.bits(),
            guest_phys_addr: gpa,
            memory_size: size,
            userspace_addr: host as u64,
        };
        // SAFETY: the caller guarantees the mapping.
        unsafe { self.fd.set_user_memory_region(region) }.map_err(VmmError::kvm("set memslot"))
    }

    /// Removes memslot `slot` (registering it again afterwards makes KVM
    /// drop stale shadow page tables, see PLATFORM.md).
    pub fn remove_slot(&self, slot: u32, gpa: u64) -> Result<(), VmmError> {
        let region = kvm_userspace_memory_region {
            slot,
            flags: 0,
            guest_phys_addr: gpa,
            memory_size: 0,
            userspace_addr: 0,
        };
        // SAFETY: a zero-sized region removes the slot; no memory is referenced.
        unsafe { self.fd.set_user_memory_region(region) }.map_err(VmmError::kvm("remove memslot"))
    }

    /// Whether KVM supports read-only memslots.
    pub fn has_readonly_slots(&self) -> bool {
        self.fd.check_extension(kvm_ioctls::Cap::ReadonlyMem)
    }

    /// The guest's RIP at the last exit (without an ioctl when KVM syncs
    /// registers into `kvm_run`).
    pub fn rip(&mut self) -> Result<u64, VmmError> {
        if self.sync_regs {
            return Ok(self.vcpu.sync_regs().regs.rip);
        }
        Ok(self.vcpu.get_regs().map_err(VmmError::kvm("get regs"))?.rip)
    }

    /// Size of guest RAM.
    pub fn ram_size(&self) -> u64 {
        self.ram_size
    }

    /// The vCPU.
    pub fn vcpu(&mut self) -> &mut VcpuFd {
        &mut self.vcpu
    }

    /// Writes guest-physical memory; fails outside RAM.
    pub fn write(&self, addr: u64, bytes: &[u8]) -> Result<(), VmmError> {
        self.ram
            .write_slice(bytes, GuestAddress(addr))
            .map_err(|e| {
                VmmError::Memory(format!("write of {} bytes at {addr:#x}: {e}", bytes.len()))
            })
    }

    /// Numbers of the RAM pages anything wrote since the VM was made or the
    /// last call: the guest (the dirty log, which this call starts afresh)
    /// and the VMM itself (RAM's bitmap, reset too). Before the first call
    /// every other page reads as zeros. Needs a VM made with `log_dirty`
    /// and no unlogged window.
    pub fn take_written_pages(&self) -> Result<Vec<u64>, VmmError> {
        let mut pages = self.ram_dirty_pages()?;
        for region in self.ram.iter() {
            let first = region.start_addr().0 / PAGE;
            let written = vm_memory::MmapRegion::bitmap(region).get_and_reset();
            pages.extend(set_bits(&written).map(|p| p + first));
        }
        pages.sort_unstable();
        pages.dedup();
        Ok(pages)
    }

    /// Whether guest-physical memory at `addr` holds exactly `bytes`
    /// (false when any of it lies outside RAM).
    pub fn holds(&self, addr: u64, bytes: &[u8]) -> bool {
        let Ok(len) = u64::try_from(bytes.len()) else {
            return false;
        };
        self.read(addr, len).is_some_and(|now| now == bytes)
    }

    /// Reads a structure of the guest contract at `addr` (through the ABI's
    /// codec); `None` when any of it lies outside RAM.
    pub fn read_obj<T: Plain>(&self, addr: u64) -> Option<T> {
        T::from_bytes(&self.read(addr, T::SIZE as u64)?)
    }

    /// Writes a structure of the guest contract at `addr` (through the
    /// ABI's codec); fails outside RAM.
    pub fn write_obj<T: Plain>(&self, addr: u64, value: &T) -> Result<(), VmmError> {
        self.write(addr, value.as_bytes())
    }

    /// Reads guest-physical memory; `None` when any of it lies outside RAM.
    pub fn read(&self, addr: u64, len: u64) -> Option<Vec<u8>> {
        let end = addr.checked_add(len)?;
        if end > self.ram_size {
            return None;
        }
        let mut buf = vec![0u8; usize::try_from(len).ok()?];
        self.ram.read_slice(&mut buf, GuestAddress(addr)).ok()?;
        Some(buf)
    }

    /// Loads the guest and sets up everything for its first instruction.
    pub fn boot(&mut self, elf: &GuestElf, info: &BootInfo) -> Result<(), VmmError> {
        for s in &elf.segments {
            self.write(s.paddr, &s.data)?;
        }
        let gdt: Vec<u8> = gdt::gdt().iter().flat_map(|e| e.to_le_bytes()).collect();
        self.write(layout::GDT, &gdt)?;
        self.write(layout::IDT, &gdt::idt(&elf.vectors))?;
        self.write(layout::TSS, &gdt::tss())?;
        for (addr, entries) in paging::identity_tables(self.ram_size) {
            let bytes: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
            self.write(addr, &bytes)?;
        }
        self.write_obj(layout::BOOT_INFO, info)?;
        let sregs = self.vcpu.get_sregs().map_err(VmmError::kvm("get sregs"))?;
        self.vcpu
            .set_sregs(&regs::sregs(sregs))
            .map_err(VmmError::kvm("set sregs"))?;
        self.vcpu
            .set_regs(&regs::regs(elf.entry))
            .map_err(VmmError::kvm("set regs"))?;
        self.vcpu
            .set_fpu(&regs::fpu())
            .map_err(VmmError::kvm("set FPU"))?;
        Ok(())
    }

    /// Registers, privilege level and code bytes at RIP, for error messages.
    pub fn dump(&mut self) -> CpuDump {
        let regs = self.vcpu.get_regs().unwrap_or_default();
        let cpl = self
            .vcpu
            .get_sregs()
            .map(|s| s.cs.selector as u8 & 3)
            .unwrap_or(0);
        let phys = self
            .vcpu
            .translate_gva(regs.rip)
            .ok()
            .filter(|t| t.valid != 0)
            .map_or(regs.rip, |t| t.physical_address);
        let code = (0..16u64)
            .map_while(|i| self.read(phys + i, 1).map(|b| b[0]))
            .collect();
        CpuDump { regs, code, cpl }
    }
}

/// Checks a RAM size: a multiple of 2 MiB between [`MIN_RAM`] and [`MAX_RAM`].
pub fn check_ram_size(size: u64) -> Result<(), VmmError> {
    let bad = |reason: String| VmmError::Config {
        what: format!("--mem {size}"),
        reason,
    };
    if !(MIN_RAM..=MAX_RAM).contains(&size) {
        return Err(bad(format!(
            "guest RAM must be between {} MiB and {} GiB",
            MIN_RAM >> 20,
            MAX_RAM >> 30
        )));
    }
    if !size.is_multiple_of(2 << 20) {
        return Err(bad("guest RAM must be a multiple of 2 MiB".into()));
    }
    Ok(())
}

/// Indices of the bits set in a bitmap of 64-bit words, in order. Visits
/// each set bit, not each bit: the dirty log of a 64 MiB NVDIMM is 16,384
/// bits, read at every exit of an `epochs` recording, and mostly zero.
fn set_bits(words: &[u64]) -> impl Iterator<Item = u64> + '_ {
    words.iter().enumerate().flat_map(|(i, &word)| {
        let mut rest = word;
        std::iter::from_fn(move || {
            (rest != 0).then(|| {
                let bit = u64::from(rest.trailing_zeros());
                rest &= rest - 1;
                i as u64 * 64 + bit
            })
        })
    })
}

/// Guest-physical memory as the decoders of what the guest hands over (the
/// event ring, hypercall arguments) read it: the live VM's RAM, or, for the
/// fuzzing harness and tests, a byte slice standing for RAM from address 0.
pub trait GuestRead {
    /// `len` bytes at `addr`; `None` when any of them lies outside RAM.
    fn read_bytes(&self, addr: u64, len: u64) -> Option<Vec<u8>>;

    /// A structure of the guest contract at `addr` (through the ABI's
    /// codec); `None` when any of it lies outside RAM.
    fn read_plain<T: Plain>(&self, addr: u64) -> Option<T> {
        T::from_bytes(&self.read_bytes(addr, T::SIZE as u64)?)
    }
}

impl GuestRead for Vm {
    fn read_bytes(&self, addr: u64, len: u64) -> Option<Vec<u8>> {
        self.read(addr, len)
    }
}

impl GuestRead for [u8] {
    fn read_bytes(&self, addr: u64, len: u64) -> Option<Vec<u8>> {
        let start = usize::try_from(addr).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        self.get(start..end).map(<[u8]>::to_vec)
    }
}

#[cfg(test)]
mod tests {
    use super::set_bits;

    #[test]
    fn set_bits_lists_every_set_bit_in_order() {
        let words = [0, 1 | 1 << 63, 0, 0b1010_0000, u64::MAX];
        let got: Vec<u64> = set_bits(&words).collect();
        let mut want = vec![64, 127, 3 * 64 + 5, 3 * 64 + 7];
        want.extend(4 * 64..5 * 64);
        assert_eq!(got, want);
        assert_eq!(set_bits(&[]).count(), 0);
    }
}
