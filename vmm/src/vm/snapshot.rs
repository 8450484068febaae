//! A VM's state at one point, to return to: the vCPU's whole state and the
//! RAM pages written since the VM was made.

use super::{PAGE, Vm};
use crate::error::VmmError;
use kvm_bindings::{Msrs, kvm_fpu, kvm_msr_entry, kvm_regs, kvm_sregs, kvm_vcpu_events};
use std::collections::{HashMap, HashSet};

/// MSRs saved with the vCPU state (the guest cannot write any MSR from
/// ring 3, but the state is the whole vCPU's).
const SAVED_MSRS: [u32; 9] = [
    0x174,       // SYSENTER_CS
    0x175,       // SYSENTER_ESP
    0x176,       // SYSENTER_EIP
    0x277,       // PAT
    0xc000_0081, // STAR
    0xc000_0082, // LSTAR
    0xc000_0083, // CSTAR
    0xc000_0084, // SFMASK
    0xc000_0102, // KERNEL_GS_BASE
];

/// The vCPU's state: registers, special registers, FPU/SSE, pending
/// events and MSRs.
pub struct VcpuState {
    regs: kvm_regs,
    sregs: kvm_sregs,
    fpu: kvm_fpu,
    events: kvm_vcpu_events,
    msrs: Msrs,
}

impl VcpuState {
    /// The guest's CR3 in this state.
    pub fn cr3(&self) -> u64 {
        self.sregs.cr3
    }
}

impl Vm {
    /// Saves the vCPU's state.
    pub fn save_vcpu(&mut self) -> Result<VcpuState, VmmError> {
        let vcpu = self.vcpu();
        let msr_list = |entries: &[kvm_msr_entry]| {
            Msrs::from_entries(entries).map_err(|e| VmmError::Memory(format!("MSR list: {e:?}")))
        };
        let mut msrs = msr_list(&SAVED_MSRS.map(|index| kvm_msr_entry {
            index,
            ..Default::default()
        }))?;
        let read = vcpu
            .get_msrs(&mut msrs)
            .map_err(VmmError::kvm("get MSRs"))?;
        Ok(VcpuState {
            msrs: msr_list(&msrs.as_slice()[..read])?,
            regs: vcpu.get_regs().map_err(VmmError::kvm("get regs"))?,
            sregs: vcpu.get_sregs().map_err(VmmError::kvm("get sregs"))?,
            fpu: vcpu.get_fpu().map_err(VmmError::kvm("get FPU"))?,
            events: vcpu
                .get_vcpu_events()
                .map_err(VmmError::kvm("get vCPU events"))?,
        })
    }

    /// Puts the vCPU back in `state`.
    pub fn restore_vcpu(&mut self, state: &VcpuState) -> Result<(), VmmError> {
        let vcpu = self.vcpu();
        vcpu.set_sregs(&state.sregs)
            .map_err(VmmError::kvm("set sregs"))?;
        vcpu.set_regs(&state.regs)
            .map_err(VmmError::kvm("set regs"))?;
        vcpu.set_fpu(&state.fpu).map_err(VmmError::kvm("set FPU"))?;
        vcpu.set_msrs(&state.msrs)
            .map_err(VmmError::kvm("set MSRs"))?;
        vcpu.set_vcpu_events(&state.events)
            .map_err(VmmError::kvm("set vCPU events"))?;
        Ok(())
    }
}

/// Guest RAM at a point: the pages the guest or the VMM wrote since the VM
/// was made (the others read as zeros).
pub struct RamSnapshot {
    pages: HashMap<u64, Box<[u8]>>,
}

/// A page of zeros.
static ZERO_PAGE: [u8; PAGE as usize] = [0; PAGE as usize];

impl RamSnapshot {
    /// Copies the pages written since `vm` was made; starts the record of
    /// written pages afresh ([`Vm::take_written_pages`]).
    pub fn take(vm: &Vm) -> Result<RamSnapshot, VmmError> {
        let pages = vm
            .take_written_pages()?
            .into_iter()
            .map(|page| {
                vm.read(page * PAGE, PAGE)
                    .map(|bytes| (page, bytes.into_boxed_slice()))
                    .ok_or_else(|| VmmError::Memory("cannot read RAM for the snapshot".into()))
            })
            .collect::<Result<_, _>>()?;
        Ok(RamSnapshot { pages })
    }

    /// Page number `page` as it was.
    pub fn page(&self, page: u64) -> &[u8] {
        self.pages.get(&page).map_or(&ZERO_PAGE[..], |p| p)
    }

    /// The 8 bytes at `addr` (8-aligned) as they were.
    fn word(&self, addr: u64) -> u64 {
        let at = (addr % PAGE) as usize;
        let bytes = &self.page(addr / PAGE)[at..at + 8];
        u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]))
    }

    /// Page numbers of the 4-level page tables rooted at `cr3`, in RAM of
    /// `ram_size` bytes as it was (entries pointing outside RAM are not
    /// followed).
    pub fn page_tables(&self, ram_size: u64, cr3: u64) -> HashSet<u64> {
        const PRESENT: u64 = 1;
        const HUGE: u64 = 1 << 7;
        const ADDR: u64 = 0x000f_ffff_ffff_f000;
        let mut pages = HashSet::new();
        let mut level = vec![cr3 & ADDR];
        for depth in 0..4 {
            let mut next = Vec::new();
            for table in level {
                if table >= ram_size || !pages.insert(table / PAGE) {
                    continue;
                }
                if depth == 3 {
                    continue;
                }
                for i in 0..512 {
                    let e = self.word(table + i * 8);
                    if e & PRESENT != 0 && (depth == 0 || e & HUGE == 0) {
                        next.push(e & ADDR);
                    }
                }
            }
            level = next;
        }
        pages
    }
}
