//! A VM's state at one point, to return to: the vCPU's whole state and the
//! RAM pages written since the VM was made.

use super::{PAGE, Vm};
use crate::error::VmmError;
use kvm_bindings::{
    Msrs, kvm_debugregs, kvm_fpu, kvm_msr_entry, kvm_regs, kvm_sregs, kvm_vcpu_events, kvm_xcrs,
};
use std::collections::{HashMap, HashSet};

/// MSRs never saved or restored: the time-stamp counter (setting it back
/// at every restore would make KVM resynchronise the guest's clock; a
/// guest that reads it is not deterministic anyway).
const UNSAVED_MSRS: [u32; 1] = [0x10];

/// The vCPU's state: registers, special registers, FPU/SSE, pending
/// events, extended control registers (XCR0), debug registers, and every
/// MSR KVM lets the VMM read and write back (the guest can reach ring 0,
/// so it may have changed any of them).
pub struct VcpuState {
    regs: kvm_regs,
    sregs: kvm_sregs,
    fpu: kvm_fpu,
    events: kvm_vcpu_events,
    /// `None` where KVM has no XSAVE support.
    xcrs: Option<kvm_xcrs>,
    debug: kvm_debugregs,
    msrs: Msrs,
}

impl VcpuState {
    /// The guest's CR3 in this state.
    pub fn cr3(&self) -> u64 {
        self.sregs.cr3
    }

    /// What differs between this state and `other` among the parts a
    /// register restore can miss: XCRs, debug registers and MSRs (for the
    /// self-check of reused VMs).
    pub fn differences(&self, other: &VcpuState) -> Vec<String> {
        let mut wrong = Vec::new();
        let xcrs = |x: &Option<kvm_xcrs>| {
            x.map(|x| {
                x.xcrs[..x.nr_xcrs as usize]
                    .iter()
                    .map(|r| (r.xcr, r.value))
                    .collect::<Vec<_>>()
            })
        };
        if xcrs(&self.xcrs) != xcrs(&other.xcrs) {
            wrong.push("XCRs".into());
        }
        if (self.debug.db, self.debug.dr6, self.debug.dr7)
            != (other.debug.db, other.debug.dr6, other.debug.dr7)
        {
            wrong.push("debug registers".into());
        }
        let theirs: HashMap<u32, u64> = other
            .msrs
            .as_slice()
            .iter()
            .map(|m| (m.index, m.data))
            .collect();
        wrong.extend(
            self.msrs
                .as_slice()
                .iter()
                .filter(|m| theirs.get(&m.index) != Some(&m.data))
                .map(|m| format!("MSR {:#x}", m.index)),
        );
        wrong
    }
}

/// An MSR list for KVM.
fn msr_list(entries: &[kvm_msr_entry]) -> Result<Msrs, VmmError> {
    Msrs::from_entries(entries).map_err(|e| VmmError::Internal(format!("MSR list: {e:?}")))
}

impl Vm {
    /// The MSRs of [`VcpuState`]: those of KVM's index list (less
    /// [`UNSAVED_MSRS`]) that it lets the VMM read and write back
    /// unchanged, found once per VM.
    fn saved_msrs(&mut self) -> Result<Vec<u32>, VmmError> {
        if let Some(list) = &self.saved_msrs {
            return Ok(list.clone());
        }
        let indices = self
            .kvm
            .get_msr_index_list()
            .map_err(VmmError::kvm("get MSR index list"))?;
        let mut kept = Vec::new();
        for &index in indices.as_slice() {
            if UNSAVED_MSRS.contains(&index) {
                continue;
            }
            let mut one = msr_list(&[kvm_msr_entry {
                index,
                ..Default::default()
            }])?;
            let vcpu = self.vcpu();
            if vcpu.get_msrs(&mut one).ok() == Some(1) && vcpu.set_msrs(&one).ok() == Some(1) {
                kept.push(index);
            }
        }
        log::debug!(
            "{} of {} MSRs saved with the vCPU",
            kept.len(),
            indices.as_slice().len()
        );
        self.saved_msrs = Some(kept.clone());
        Ok(kept)
    }

    /// Saves the vCPU's state.
    pub fn save_vcpu(&mut self) -> Result<VcpuState, VmmError> {
        let indices = self.saved_msrs()?;
        let vcpu = self.vcpu();
        let mut msrs = msr_list(
            &indices
                .iter()
                .map(|&index| kvm_msr_entry {
                    index,
                    ..Default::default()
                })
                .collect::<Vec<_>>(),
        )?;
        let read = vcpu
            .get_msrs(&mut msrs)
            .map_err(VmmError::kvm("get MSRs"))?;
        if read != indices.len() {
            return Err(VmmError::Internal(format!(
                "KVM read {read} of {} MSRs it read before",
                indices.len()
            )));
        }
        Ok(VcpuState {
            msrs,
            regs: vcpu.get_regs().map_err(VmmError::kvm("get regs"))?,
            sregs: vcpu.get_sregs().map_err(VmmError::kvm("get sregs"))?,
            fpu: vcpu.get_fpu().map_err(VmmError::kvm("get FPU"))?,
            events: vcpu
                .get_vcpu_events()
                .map_err(VmmError::kvm("get vCPU events"))?,
            xcrs: vcpu.get_xcrs().ok(),
            debug: vcpu
                .get_debug_regs()
                .map_err(VmmError::kvm("get debug registers"))?,
        })
    }

    /// Puts the vCPU back in `state`.
    pub fn restore_vcpu(&mut self, state: &VcpuState) -> Result<(), VmmError> {
        let vcpu = self.vcpu();
        vcpu.set_sregs(&state.sregs)
            .map_err(VmmError::kvm("set sregs"))?;
        if let Some(xcrs) = &state.xcrs {
            vcpu.set_xcrs(xcrs).map_err(VmmError::kvm("set XCRs"))?;
        }
        vcpu.set_regs(&state.regs)
            .map_err(VmmError::kvm("set regs"))?;
        vcpu.set_fpu(&state.fpu).map_err(VmmError::kvm("set FPU"))?;
        let written = vcpu
            .set_msrs(&state.msrs)
            .map_err(VmmError::kvm("set MSRs"))?;
        if written != state.msrs.as_slice().len() {
            return Err(VmmError::Internal(format!(
                "KVM refused MSR {:#x} it accepted at the snapshot",
                state.msrs.as_slice()[written].index
            )));
        }
        vcpu.set_debug_regs(&state.debug)
            .map_err(VmmError::kvm("set debug registers"))?;
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
