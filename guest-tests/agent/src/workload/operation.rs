//! One operation in record mode: executed on the mounted file system
//! between its begin and end marks, its reads and loads checked against the
//! model, which then takes its effect; and the [`State`] that operations
//! share, in the main flow or on the tasks of a race script.

use super::Op;
use super::model::Model;
use crate::dax::{self, io, marks, truncate, writeback};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use pmemvm_sdk::pmem;

/// Loads `len` bytes through the user mapping at `va`.
fn user_load(va: u64, len: u64) -> Vec<u8> {
    (va..va + len)
        // SAFETY: inside a live file mapping; a fault maps the page.
        .map(|a| unsafe { (a as *const u8).read_volatile() })
        .collect()
}

/// Stores `data` through the user mapping at `va`.
fn user_store(va: u64, data: &[u8]) {
    // SAFETY: inside a live file mapping; faults map the pages.
    unsafe { pmem::copy_cached(va as *mut u8, data) };
}

/// Compares bytes `found` with `expected`; the error names `what`.
pub fn compare(what: &str, found: &[u8], expected: &[u8]) -> Result<(), String> {
    match found.iter().zip(expected).position(|(f, e)| f != e) {
        None if found.len() == expected.len() => Ok(()),
        None => Err(format!(
            "{what}: {} bytes, expected {}",
            found.len(),
            expected.len()
        )),
        Some(i) => Err(format!(
            "{what}: byte {i} is {:#04x}, expected {:#04x}",
            found[i], expected[i]
        )),
    }
}

/// What operations share while they run: the model of the file
/// contents, the VMA id of each plan mapping, and the errors of operations
/// run by tasks.
pub struct State {
    /// The files as the completed operations left them.
    pub model: Model,
    /// Plan mapping name to VMA id.
    pub maps: BTreeMap<u64, u64>,
    /// Failures of operations run by tasks.
    pub errors: Vec<String>,
}

impl State {
    /// The state after the setup created `files`.
    pub fn new(files: &[crate::dax::mkfs::FileSpec]) -> State {
        State {
            model: Model::new(files),
            maps: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    /// The address of byte `off` of plan mapping `map`.
    fn va(&self, map: u64, off: u64) -> Result<u64, String> {
        self.maps
            .get(&map)
            // SAFETY: used for the lookup alone.
            .map(|id| unsafe { dax::fs() }.mm.vma(*id).start + off)
            .ok_or_else(|| format!("mapping {map} is not mapped"))
    }
}

/// Executes one operation. No borrow of `st` is held across a file-system
/// call or a user access: a task may yield inside either.
fn execute(op: &Op, st: &RefCell<State>) -> Result<(), String> {
    match op {
        // SAFETY: a write neither yields nor touches a user mapping.
        Op::Write { ino, off, data } => io::write(unsafe { dax::fs() }, *ino, *off, data)
            .map_err(|e| format!("pwrite to inode {ino} failed: {e:?}"))?,
        Op::Read { ino, off, len } => {
            // SAFETY: a read neither yields nor touches a user mapping.
            let found = io::read(unsafe { dax::fs() }, *ino, *off, *len);
            let model = &st.borrow().model;
            let n = (*len).min(model.size(*ino).saturating_sub(*off));
            compare(
                &format!("pread inode {ino} at {off:#x}"),
                &found,
                &model.bytes(*ino, *off, n),
            )?;
        }
        Op::Mmap {
            map,
            ino,
            pgoff,
            pages,
            huge,
        } => {
            // SAFETY: `mmap` only records the mapping.
            let id = unsafe { dax::fs() }.mm.mmap(*ino, *pgoff, *pages, *huge);
            st.borrow_mut().maps.insert(*map, id);
        }
        Op::Munmap { map } => {
            let id = st.borrow_mut().maps.remove(map);
            if let Some(id) = id {
                // SAFETY: `munmap` only unmaps and drops the mapping.
                unsafe { dax::fs() }.mm.munmap(id);
            }
        }
        Op::Store { map, off, data } => {
            let va = st.borrow().va(*map, *off)?;
            user_store(va, data);
        }
        Op::Load { map, off, len } => {
            let va = st.borrow().va(*map, *off)?;
            let found = user_load(va, *len);
            let model = &st.borrow().model;
            let (ino, pgoff) = model.map(*map).ok_or("load through no mapping")?;
            let at = pgoff * crate::dax::layout::PAGE + off;
            compare(
                &format!("mmap load of inode {ino} at {at:#x}"),
                &found,
                &model.bytes(ino, at, *len),
            )?;
        }
        Op::Msync { map, off, len } => {
            let id = *st.borrow().maps.get(map).ok_or("msync of no mapping")?;
            writeback::msync(id, *off, *len);
        }
        Op::Fsync { ino } => writeback::fsync_range(*ino, 0, u64::MAX, false),
        Op::Fdatasync { ino } => writeback::fsync_range(*ino, 0, u64::MAX, true),
        Op::Sync => writeback::sync(),
        // SAFETY: a truncate neither yields nor touches a user mapping.
        Op::Truncate { ino, size } => truncate::truncate(unsafe { dax::fs() }, *ino, *size),
        // SAFETY: a hole punch neither yields nor touches a user mapping.
        Op::Punch { ino, off, len } => truncate::punch(unsafe { dax::fs() }, *ino, *off, *len),
        // SAFETY: an invalidate neither yields nor touches a user mapping.
        Op::Invalidate { ino } => truncate::invalidate(unsafe { dax::fs() }, *ino, 0, u64::MAX),
    }
    Ok(())
}

/// Runs operation `id` between its begin and end marks; the model takes
/// its effect when it completes.
pub fn run_op(st: &RefCell<State>, id: u64, op: &Op) -> Result<(), String> {
    // SAFETY: used for this assignment alone.
    unsafe { dax::fs() }.op = id;
    let (file, change) = {
        let model = &mut st.borrow_mut().model;
        (file_of(op, model), model.change(op))
    };
    marks::mark(&format!("{}-begin", op.name()), id, file, None, None);
    execute(op, st).map_err(|e| format!("op {id} ({}): {e}", op.name()))?;
    if let Some(change) = change {
        st.borrow_mut().model.push(change);
    }
    marks::mark(&format!("{}-end", op.name()), id, file, None, None);
    Ok(())
}

/// The file an operation concerns, for its marks.
fn file_of(op: &Op, model: &Model) -> Option<u64> {
    match op {
        Op::Write { ino, .. }
        | Op::Read { ino, .. }
        | Op::Mmap { ino, .. }
        | Op::Fsync { ino }
        | Op::Fdatasync { ino }
        | Op::Truncate { ino, .. }
        | Op::Punch { ino, .. }
        | Op::Invalidate { ino } => Some(*ino),
        Op::Munmap { map }
        | Op::Store { map, .. }
        | Op::Load { map, .. }
        | Op::Msync { map, .. } => model.map(*map).map(|(ino, _)| ino),
        Op::Sync => None,
    }
}
