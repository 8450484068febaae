//! `pmemvm scenarios`.

use super::GuestArgs;

/// Arguments of `pmemvm scenarios`.
#[derive(Debug, clap::Args)]
pub struct ScenariosArgs {
    #[command(flatten)]
    guest: GuestArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Boots the guest in list mode and prints what it reports.
pub fn run(a: &ScenariosArgs) -> anyhow::Result<i32> {
    let guest = a.guest.guest()?;
    let list = pmemvm::session::list_scenarios(&guest.source, guest.mem, guest.timeout)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        let width = list.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in &list {
            println!("{:width$}  {}", s.name, s.description);
        }
    }
    Ok(0)
}
