//! The guest's persistent-memory event ring ([`pmemvm_abi::pmem`]): the
//! flushes, fences, NT stores and locked RMWs the guest announced since the
//! last exit, read through the ABI's codec and bounds-checked.

use crate::error::VmmError;
use crate::vm::{GuestRead, Vm};
use pmemvm_abi::pmem::{self as ring, Entry, Ring};
use pmemvm_abi::{Plain, layout};
use std::mem::offset_of;

/// Guest-physical address of the ring's field at `offset`.
const fn at(offset: usize) -> u64 {
    layout::PMEM_RING + offset as u64
}

/// Takes the entries the guest appended since the last call and marks them
/// consumed.
pub(super) fn take(vm: &Vm) -> Result<Vec<Entry>, VmmError> {
    let (entries, head) = decode(vm)?;
    vm.write_obj(at(offset_of!(Ring, tail)), &head)?;
    Ok(entries)
}

/// Decodes the entries the guest appended since the last drain, reading
/// guest memory only: the entries and the new tail (the head), which
/// [`take`] writes back to mark them consumed. A head and tail more than
/// [`ring::ENTRIES`] apart, or a ring outside RAM, is a protocol error. Pure,
/// so the fuzzing harness (`vmm/fuzz`) feeds it arbitrary guest memory.
pub fn decode<M: GuestRead + ?Sized>(mem: &M) -> Result<(Vec<Entry>, u64), VmmError> {
    let outside = || VmmError::Protocol("event ring outside guest RAM".into());
    let head: u64 = mem
        .read_plain(at(offset_of!(Ring, head)))
        .ok_or_else(outside)?;
    let tail: u64 = mem
        .read_plain(at(offset_of!(Ring, tail)))
        .ok_or_else(outside)?;
    if head < tail || head - tail > ring::ENTRIES {
        return Err(VmmError::Protocol(format!(
            "corrupt event ring: head {head}, tail {tail} (at most {} entries)",
            ring::ENTRIES
        )));
    }
    let entries = (tail..head)
        .map(|i| {
            let slot = at(offset_of!(Ring, entries)) + (i % ring::ENTRIES) * Entry::SIZE as u64;
            mem.read_plain::<Entry>(slot).ok_or_else(outside)
        })
        .collect::<Result<_, _>>()?;
    Ok((entries, head))
}

/// The name of an entry's kind, for messages.
pub fn kind_name(kind: u32) -> &'static str {
    match kind {
        ring::CLWB => "clwb",
        ring::CLFLUSHOPT => "clflushopt",
        ring::CLFLUSH => "clflush",
        ring::SFENCE => "sfence",
        ring::MFENCE => "mfence",
        ring::RMW => "locked RMW",
        ring::NTSTORE => "NT store",
        _ => "unknown operation",
    }
}
