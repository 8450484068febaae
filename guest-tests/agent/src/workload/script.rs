//! Race scripts (section 7.11): steps that start an operation on a task,
//! run a task until a named yield point, resume it, arm a fault injection
//! or mark the CRASH point.
//!
//! Each operation runs on a cooperative task of its own; a script's task
//! number names the "thread" that runs one operation after another. "Run
//! task T until yield point Y" resumes T, passing other yield points, until
//! it stops at Y or completes its operation (Y not on its path in this
//! variant). A task waiting for an entry lock yields: the runner then runs
//! every other task until it completes or waits too, and retries; when
//! nobody can move, the step is a scenario error naming it.

use super::operation::{self, State};
use super::{Event, Op, Plan};
use crate::dax::{self, variant::LOCK_WAIT, variant::Yp};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use pmemvm_sdk::pmem::{self, MarkFields};
use pmemvm_sdk::task::{Status, Task};

/// One step of a race script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Task `task` starts the plan's next operation and runs it until
    /// `until` (to its end when `None`).
    Start {
        /// The task.
        task: u8,
        /// Where it stops.
        until: Option<Yp>,
    },
    /// Task `task` resumes its operation, until `until` or its end.
    Resume {
        /// The task.
        task: u8,
        /// Where it stops.
        until: Option<Yp>,
    },
    /// Arms the fault injection of V4: the next radix-tree insert fails
    /// with `-ENOMEM` (the fault reports SIGBUS, which the harness retries).
    FailNextInsert,
    /// The CRASH step: puts the `crash` mark.
    Crash,
}

/// A step that runs task `task`'s next operation to its end.
pub fn run(task: u8) -> Step {
    Step::Start { task, until: None }
}

/// A step that starts task `task`'s next operation and stops it at `yp`.
pub fn until(task: u8, yp: Yp) -> Step {
    Step::Start {
        task,
        until: Some(yp),
    }
}

/// A step that resumes task `task` to the end of its operation.
pub fn finish(task: u8) -> Step {
    Step::Resume { task, until: None }
}

/// The nominal start and end order of a script's operations: an
/// operation ends at the step that runs it to its end, or after the last
/// step when none does.
pub fn events(steps: &[Step]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut running = BTreeMap::new();
    let mut next = 0;
    for step in steps {
        match *step {
            Step::Start { task, until } => {
                next += 1;
                out.push(Event::Begin(next));
                match until {
                    None => out.push(Event::End(next)),
                    Some(_) => {
                        running.insert(task, next);
                    }
                }
            }
            Step::Resume { task, until: None } => {
                if let Some(id) = running.remove(&task) {
                    out.push(Event::End(id));
                }
            }
            _ => {}
        }
    }
    out.extend(running.values().map(|id| Event::End(*id)));
    out
}

/// A task and the operation it runs.
struct Running {
    op: u64,
    task: Task,
}

/// Runs a plan's script.
struct Runner {
    state: Rc<RefCell<State>>,
    tasks: BTreeMap<u8, Running>,
}

impl Runner {
    /// Resumes task `t` once (with its operation current).
    fn resume_once(&mut self, t: u8) -> Status {
        let r = self.tasks.get_mut(&t).expect("resume of a known task");
        // SAFETY: used for this assignment alone.
        unsafe { dax::fs() }.op = r.op;
        r.task.resume()
    }

    /// Runs every task but `me` until it completes or waits for a lock;
    /// true if any of them moved.
    fn run_others(&mut self, me: u8) -> bool {
        let others: Vec<u8> = self.tasks.keys().copied().filter(|t| *t != me).collect();
        let mut moved = false;
        for t in others {
            let before = self.tasks[&t].task.status();
            if before == Status::Finished {
                continue;
            }
            loop {
                match self.resume_once(t) {
                    Status::Yielded(LOCK_WAIT) => {
                        moved |= before != Status::Yielded(LOCK_WAIT);
                        break;
                    }
                    Status::Yielded(_) | Status::Ready => {}
                    Status::Finished => {
                        moved = true;
                        break;
                    }
                }
            }
        }
        moved
    }

    /// Runs task `t` until `until` or the end of its operation.
    fn drive(&mut self, t: u8, until: Option<Yp>, step: usize) -> Result<(), String> {
        loop {
            match self.resume_once(t) {
                Status::Finished => return Ok(()),
                Status::Yielded(tag) if until.is_some_and(|y| y as u64 == tag) => return Ok(()),
                Status::Yielded(LOCK_WAIT) => {
                    if !self.run_others(t) {
                        return Err(format!(
                            "step {step}: cannot make progress: task {t} waits for an entry lock no other task can release"
                        ));
                    }
                }
                Status::Yielded(_) | Status::Ready => {}
            }
        }
    }

    /// Starts operation `id` on task `t`.
    fn start(&mut self, t: u8, id: u64, op: &Op, step: usize) -> Result<(), String> {
        if self
            .tasks
            .get(&t)
            .is_some_and(|r| r.task.status() != Status::Finished)
        {
            return Err(format!(
                "step {step}: task {t} starts op {id} before its op {} completed",
                self.tasks[&t].op
            ));
        }
        let (state, op) = (self.state.clone(), op.clone());
        let task = Task::new(move || {
            if let Err(e) = operation::run_op(&state, id, &op) {
                state.borrow_mut().errors.push(e);
            }
        });
        self.tasks.insert(t, Running { op: id, task });
        Ok(())
    }

    fn step(&mut self, plan: &Plan, i: usize, next: &mut u64) -> Result<(), String> {
        let step = i + 1;
        match plan.script[i] {
            Step::Start { task, until } => {
                *next += 1;
                let op = plan
                    .ops
                    .get(*next as usize - 1)
                    .ok_or_else(|| format!("step {step}: the plan has no op {next}"))?;
                self.start(task, *next, op, step)?;
                self.drive(task, until, step)
            }
            Step::Resume { task, until } => {
                if !self.tasks.contains_key(&task) {
                    return Err(format!("step {step}: task {task} never started"));
                }
                self.drive(task, until, step)
            }
            Step::FailNextInsert => {
                // SAFETY: used for this assignment alone.
                unsafe { dax::fs() }.fail_next_insert = true;
                Ok(())
            }
            Step::Crash => {
                pmem::mark("crash", MarkFields::default());
                Ok(())
            }
        }
    }
}

/// Record mode of a script: runs its steps, then every task still running
/// to its end; returns the model of what the files hold.
pub fn record(plan: &Plan) -> Result<super::model::Model, String> {
    let state = Rc::new(RefCell::new(State::new(&plan.files)));
    let mut runner = Runner {
        state: state.clone(),
        tasks: BTreeMap::new(),
    };
    let mut next = 0;
    for i in 0..plan.script.len() {
        runner.step(plan, i, &mut next)?;
    }
    if next as usize != plan.ops.len() {
        return Err(format!(
            "the script starts {next} ops, the plan has {}",
            plan.ops.len()
        ));
    }
    let tasks: Vec<u8> = runner.tasks.keys().copied().collect();
    for t in tasks {
        runner.drive(t, None, plan.script.len() + 1)?;
    }
    drop(runner);
    let state = Rc::try_unwrap(state)
        .map_err(|_| String::from("a task outlived the script"))?
        .into_inner();
    match state.errors.first() {
        Some(e) => Err(e.clone()),
        None => Ok(state.model),
    }
}
