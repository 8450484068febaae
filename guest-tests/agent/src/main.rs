//! The bundled guest agent of pmemvm.
//!
//! Boots in one of three modes: `list` reports every scenario, `run` runs
//! the scenario named in the boot info (recording), `verify` runs the same
//! scenario's recovery and checks on a crash image.

#![no_std]
#![no_main]

extern crate alloc;

mod dax;
mod scenarios;
mod workload;

use pmemvm_abi::Mode;
use pmemvm_sdk::{BootInfo, println};

fn main(info: &'static BootInfo) -> u32 {
    match Mode::from_raw(info.mode) {
        Some(Mode::List) => {
            for (name, description, variants) in scenarios::list() {
                pmemvm_sdk::report_scenario(name, description, &variants.list());
            }
            0
        }
        Some(Mode::Run | Mode::Verify) => match scenarios::find(info.scenario()) {
            Some(run) => run(info),
            None => {
                println!("unknown scenario `{}`", info.scenario());
                2
            }
        },
        _ => {
            println!("mode {} is not supported by this agent", info.mode);
            2
        }
    }
}

pmemvm_sdk::entry!(main);
