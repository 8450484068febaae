//! Record mode: format and preallocate in the untraced setup, mount, end
//! the setup, then execute every operation with begin/end marks, checking
//! reads against the model and the file-system invariants at the end.

use super::model::Model;
use super::operation::{State, compare, run_op};
use super::{Hook, Plan, pattern};
use crate::dax::fs::Fs;
use crate::dax::media::Media;
use crate::dax::variant::Variant;
use crate::dax::{self, io, mkfs};
use alloc::format;
use alloc::string::String;
use core::cell::RefCell;
use pmemvm_sdk::report::Finding;
use pmemvm_sdk::{pmem, println, report};

/// The NVDIMM, or a message.
pub fn media() -> Result<Media, String> {
    let d = pmem::init().map_err(|e| format!("no NVDIMM: {e:?}"))?;
    Ok(Media {
        base: d.base,
        size: d.size,
    })
}

/// Runs the operations; an operation that fails is check `operation`.
fn run_ops(plan: &Plan, hook: Hook) -> Result<Model, Finding> {
    let failed = |e| Finding::new("operation", e);
    if !plan.script.is_empty() {
        return super::script::record(plan).map_err(failed);
    }
    let st = RefCell::new(State::new(&plan.files));
    for (i, op) in plan.ops.iter().enumerate() {
        let id = i as u64 + 1;
        run_op(&st, id, op).map_err(failed)?;
        hook(id, op)?;
    }
    Ok(st.into_inner().model)
}

/// Checks every file's content (through `read(2)`) and the invariants.
fn final_check(plan: &Plan, model: &Model) -> Result<(), String> {
    // SAFETY: the check and `io::read` neither yield nor touch a user mapping.
    let fs = unsafe { dax::fs() };
    fs.check_consistency()?;
    for f in &plan.files {
        let size = model.size(f.ino);
        let found = io::read(fs, f.ino, 0, size);
        compare(
            &format!("final content of inode {}", f.ino),
            &found,
            &model.bytes(f.ino, 0, size),
        )?;
    }
    Ok(())
}

/// Record mode: returns the exit status (1 after a finding).
pub fn record(name: &str, plan: &Plan, variant: Variant, hook: Hook) -> u32 {
    let media = match media() {
        Ok(m) => m,
        Err(e) => {
            println!("{name}: {e}");
            return 1;
        }
    };
    mkfs::format(&media, &plan.files, pattern);
    match Fs::mount(media, variant) {
        Ok(fs) => dax::install(fs),
        Err(e) => {
            println!("{name}: mount after mkfs failed: {e}");
            return 1;
        }
    }
    pmem::setup_done();
    let result = run_ops(plan, hook)
        .and_then(|model| final_check(plan, &model).map_err(|e| Finding::new("final-state", e)));
    match result {
        Ok(()) => {
            println!(
                "{name}: {} operations done (variant {}, {} transactions)",
                plan.ops.len(),
                // SAFETY: used for these reads alone.
                unsafe { dax::fs() }.variant.name(),
                // SAFETY: as above.
                unsafe { dax::fs() }.seq
            );
            0
        }
        Err(f) => {
            let msg = format!("{name}: {}", f.message);
            println!("{msg}");
            report::finding(f.check, &msg);
            1
        }
    }
}
