//! A C guest's scenarios: the table `PMEMVM_SCENARIOS(...)` defines
//! (`pmemvm_scenario_table`, null-terminated), made into the SDK's
//! [`Scenario`]s, whose phases call the C callbacks. The guest's main
//! function is the SDK's [`pmemvm_sdk::scenario::main`]: list, run and
//! verify modes, unknown names and the verdict are the Rust SDK's.
//!
//! In verify mode `recover` returns `pmemvm_pass(...)` (0) or
//! `pmemvm_fail(check, ...)` (1); those C functions format the message
//! and hand it here through [`pmemvm_set_verdict`].

use crate::{owned_str, static_str};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_char, c_int};
use pmemvm_abi::PromiseArgs;
use pmemvm_sdk::report::Finding;
use pmemvm_sdk::scenario::{Context, Scenario, Variant};
use pmemvm_sdk::{BootInfo, Global, boot_info};

/// `struct pmemvm_variant`.
#[repr(C)]
pub struct CVariant {
    name: *const c_char,
    description: *const c_char,
}

/// `struct pmemvm_scenario`.
#[repr(C)]
pub struct CScenario {
    name: *const c_char,
    description: *const c_char,
    /// Terminated by an entry whose name is null.
    variants: *const CVariant,
    setup: Option<extern "C" fn(*const CContext)>,
    run: Option<extern "C" fn(*const CContext)>,
    recover: Option<extern "C" fn(*const CContext) -> c_int>,
}

/// `struct pmemvm_ctx`: what a C callback is given.
#[repr(C)]
pub struct CContext {
    /// The NVDIMM, mapped.
    base: *mut u8,
    /// Its size in bytes.
    size: u64,
    /// The variant's name (from the guest's table).
    variant: *const c_char,
    /// `--seed`.
    seed: u64,
    /// Verify mode: the last operation started before the crash point.
    last_op: u64,
    /// Verify mode: the promises made before the crash point.
    promises: *const PromiseArgs,
    /// How many.
    promise_count: u64,
}

unsafe extern "C" {
    /// Defined by the guest with `PMEMVM_SCENARIOS(...)`.
    static pmemvm_scenario_table: [*const CScenario; 0];
}

/// The guest's table, in its order.
fn table() -> impl Iterator<Item = &'static CScenario> {
    let first = (&raw const pmemvm_scenario_table).cast::<*const CScenario>();
    (0..)
        // SAFETY: the table is null-terminated (PMEMVM_SCENARIOS adds the
        // null); `take_while` stops there.
        .map(move |i| unsafe { *first.add(i) })
        .take_while(|p| !p.is_null())
        // SAFETY: non-null entries point at the guest's static scenarios.
        .map(|p| unsafe { &*p })
}

/// A scenario's variants, in its order.
fn variants(c: &'static CScenario) -> impl Iterator<Item = &'static CVariant> {
    (0..).map_while(move |i| {
        if c.variants.is_null() {
            return None;
        }
        // SAFETY: the variant array ends with a null name; `map_while`
        // stops there.
        let v = unsafe { &*c.variants.add(i) };
        (!v.name.is_null()).then_some(v)
    })
}

/// The guest's main function.
fn main(info: &'static BootInfo) -> u32 {
    let scenarios: Vec<&'static Scenario> =
        table().map(|c| &*Box::leak(Box::new(convert(c)))).collect();
    if scenarios.is_empty() {
        panic!("no scenario: define them with PMEMVM_SCENARIOS(&a, &b, ...)");
    }
    pmemvm_sdk::scenario::main(&scenarios, info)
}

pmemvm_sdk::entry!(main);

/// The SDK's scenario for a C one: names checked, phases through the
/// callbacks of the scenario `--scenario` names.
fn convert(c: &'static CScenario) -> Scenario {
    // SAFETY: the table's strings are the guest's static strings.
    let name = unsafe { static_str(c.name, "a scenario's name") }
        .unwrap_or_else(|| panic!("a scenario of PMEMVM_SCENARIOS has no name"));
    let variants: Vec<Variant> = variants(c)
        .map(|v| Variant {
            // SAFETY: as above.
            name: unsafe { static_str(v.name, "a variant's name") }.unwrap_or_default(),
            // SAFETY: as above.
            description: unsafe { static_str(v.description, "a variant's description") }
                .unwrap_or_default(),
        })
        .collect();
    if variants.is_empty() {
        panic!("scenario {name}: no variant (end the list with {{NULL, NULL}})");
    }
    Scenario {
        name,
        // SAFETY: as above.
        description: unsafe { static_str(c.description, "a scenario's description") }
            .unwrap_or_default(),
        variants: Box::leak(variants.into_boxed_slice()),
        setup,
        run,
        recover,
    }
}

/// The C scenario running (the one `--scenario` names; `main` found it).
fn current() -> &'static CScenario {
    let name = boot_info().scenario();
    table()
        // SAFETY: the table's names are the guest's static strings.
        .find(|c| unsafe { static_str(c.name, "a scenario's name") } == Some(name))
        .expect("the SDK runs a scenario of the table")
}

/// The C context of `ctx`.
fn c_context(ctx: &Context) -> CContext {
    let scenario = current();
    let variant = variants(scenario)
        // SAFETY: the table's names are the guest's static strings.
        .find(|v| unsafe { static_str(v.name, "a variant's name") } == Some(ctx.variant))
        .map_or(core::ptr::null(), |v| v.name);
    let device = pmemvm_sdk::pmem::device().expect("the SDK mapped the NVDIMM");
    let promises = ctx.promises();
    CContext {
        base: device.base as *mut u8,
        size: device.size,
        variant,
        seed: ctx.seed,
        last_op: ctx.last_op(),
        promises: promises.as_ptr(),
        promise_count: promises.len() as u64,
    }
}

fn setup(ctx: &Context) {
    if let Some(f) = current().setup {
        f(&c_context(ctx));
    }
}

fn run(ctx: &Context) {
    if let Some(f) = current().run {
        f(&c_context(ctx));
    }
}

/// What `pmemvm_pass` or `pmemvm_fail` said last: passed, check, message.
static VERDICT: Global<Option<(bool, String, String)>> = Global::new(None);

fn recover(ctx: &Context) -> Result<String, Finding> {
    let Some(f) = current().recover else {
        return Ok(String::from("no recover function"));
    };
    // SAFETY: single vCPU, no concurrent access.
    unsafe { *VERDICT.get() = None };
    let status = f(&c_context(ctx));
    // SAFETY: as above.
    let said = unsafe { (*VERDICT.get()).take() };
    match (status, said) {
        (0, Some((true, _, message))) => Ok(message),
        (0, _) => Ok(String::new()),
        (_, Some((false, check, message))) => {
            Err(Finding::new(Box::leak(check.into_boxed_str()), message))
        }
        (status, _) => Err(Finding::new(
            "recover",
            alloc::format!("recover returned {status} without calling pmemvm_fail"),
        )),
    }
}

/// Keeps the verdict `pmemvm_pass` (`passed` 1, `check` null) or
/// `pmemvm_fail` formatted, for `recover`'s return.
///
/// # Safety
/// `check` and `message` are null or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmemvm_set_verdict(
    passed: c_int,
    check: *const c_char,
    message: *const c_char,
) {
    // SAFETY: the caller guarantees the strings.
    let (check, message) = unsafe { (owned_str(check), owned_str(message)) };
    // SAFETY: single vCPU, no concurrent access.
    unsafe { *VERDICT.get() = Some((passed != 0, check, message)) };
}

/// A check the guest failed in run mode (`pmemvm_finding`, formatted).
///
/// # Safety
/// `check` and `message` are null or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmemvm_report_finding(check: *const c_char, message: *const c_char) {
    // SAFETY: the caller guarantees the strings.
    let (check, message) = unsafe { (owned_str(check), owned_str(message)) };
    pmemvm_sdk::report::finding(&check, &message);
}
