//! `distgo wal list|truncate`: reading the write-ahead log from outside.
//!
//! Every committed change appends one entry per resource it touched, in
//! commit order, stamped with the commit time. `wal list` pages through the
//! entries matching its filters (`--since` inclusive, `--until` exclusive,
//! `--entity`, `--op`).
//!
//! ## Following
//!
//! `--follow` keeps listing, like `tail -f`. A page token cannot be kept
//! for later: the last page has none ("nothing follows"). So the follower
//! remembers the timestamp of the newest entry it printed and the ids of
//! the entries at that timestamp, and every `--interval` lists again from
//! that timestamp (inclusive), printing only entries it has not seen. A
//! transaction's entries share one timestamp, so "seen at the newest
//! timestamp" is at most one commit's worth of ids. It stops on Ctrl-C,
//! after `--limit` entries, or once `--until` has passed; each poll is
//! bounded by `--timeout`. With `--output json` it prints one compact JSON
//! object per line, since an array would never be closed.

use std::{collections::HashSet, time::SystemTime};

use prost_types::Timestamp;
use serde::{Serialize, Serializer};

use super::{
    Context,
    args::{Entity, Format, Op, WalCommand, WalListArgs},
    connect::Clients,
    error::CliError,
    output::{Show, full_time},
    paging::page_through,
    time,
    view::Entry,
};
use crate::proto::database::{
    EntityType, ListWalEntriesRequest, MutationType, TruncateWalRequest, WalEntry,
};

/// Runs a `wal` subcommand.
pub async fn run(cx: &mut Context, command: WalCommand) -> Result<(), CliError> {
    match command {
        WalCommand::List(args) if args.follow => follow(cx, args).await,
        WalCommand::List(args) => {
            let filter = Filter::new(&args)?;
            let mut out = cx.printer.list::<Entry>();
            let mut list = |entry: WalEntry| out.push(Entry::new(entry));
            fetch(
                &cx.clients,
                &filter,
                filter.since,
                args.list.limit,
                &mut list,
            )
            .await?;
            out.finish()?;
            Ok(())
        }
        WalCommand::Truncate { before } => {
            let before = time::parse(&before)?;
            let request = TruncateWalRequest {
                before: Some(before),
            };
            cx.clients.wal().truncate_wal(request).await?;
            cx.printer.one(&Truncated {
                before: full_time(Some(&before)).unwrap_or_default(),
            })
        }
    }
}

/// The request fields every page repeats.
#[derive(Clone, Copy, Debug)]
struct Filter {
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    entity: EntityType,
    op: MutationType,
}

impl Filter {
    fn new(args: &WalListArgs) -> Result<Self, CliError> {
        Ok(Filter {
            since: args.since.as_deref().map(time::parse).transpose()?,
            until: args.until.as_deref().map(time::parse).transpose()?,
            entity: match args.entity {
                None => EntityType::Unspecified,
                Some(Entity::Database) => EntityType::Database,
                Some(Entity::Collection) => EntityType::Collection,
                Some(Entity::Document) => EntityType::Document,
            },
            op: match args.op {
                None => MutationType::Unspecified,
                Some(Op::Create) => MutationType::Create,
                Some(Op::Update) => MutationType::Update,
                Some(Op::Delete) => MutationType::Delete,
            },
        })
    }
}

/// Pages through the entries from `since` on, handing each to `each`.
async fn fetch(
    clients: &Clients,
    filter: &Filter,
    since: Option<Timestamp>,
    limit: Option<u64>,
    each: &mut impl FnMut(WalEntry) -> Result<(), CliError>,
) -> Result<u64, CliError> {
    let mut client = clients.wal();
    let fetch = async |page_size, page_token| {
        let request = ListWalEntriesRequest {
            page_size,
            page_token,
            start_time: since,
            end_time: filter.until,
            entity_type_filter: filter.entity.into(),
            operation_type_filter: filter.op.into(),
        };
        let page = client.list_wal_entries(request).await?.into_inner();
        Ok((page.entries, page.next_page_token))
    };
    page_through(limit, fetch, each).await
}

/// What the follower has printed: the newest timestamp and the ids at it.
#[derive(Debug, Default)]
struct Seen {
    newest: Option<Timestamp>,
    at_newest: HashSet<String>,
    printed: u64,
}

impl Seen {
    /// Whether `entry` is new; remembers it if so.
    fn admit(&mut self, entry: &WalEntry) -> bool {
        let ts = entry.timestamp.unwrap_or_default();
        let key = |t: &Timestamp| (t.seconds, t.nanos);
        match &self.newest {
            Some(newest) if key(&ts) < key(newest) => return false,
            Some(newest) if key(&ts) == key(newest) => {
                if !self.at_newest.insert(entry.id.clone()) {
                    return false;
                }
            }
            _ => {
                self.newest = Some(ts);
                self.at_newest.clear();
                self.at_newest.insert(entry.id.clone());
            }
        }
        self.printed += 1;
        true
    }
}

async fn follow(cx: &mut Context, args: WalListArgs) -> Result<(), CliError> {
    let filter = Filter::new(&args)?;
    let limit = args.list.limit;
    let mut seen = Seen::default();
    if cx.printer.format() == Format::Table {
        let header = row(&["TIME", "OP", "ENTITY", "NAME"].map(String::from));
        cx.printer.write(header.as_bytes())?;
    }
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let until_passed = filter
            .until
            .is_some_and(|until| time::timestamp(SystemTime::now()).seconds > until.seconds);
        let since = seen.newest.or(filter.since);
        let want = limit.map(|limit| limit.saturating_sub(seen.printed));
        let mut found = Vec::new();
        let mut collect = |entry: WalEntry| {
            if seen.admit(&entry) {
                found.push(Entry::new(entry));
            }
            Ok(())
        };
        fetch(&cx.clients, &filter, since, None, &mut collect).await?;
        for entry in found
            .into_iter()
            .take(want.map_or(usize::MAX, |w| w as usize))
        {
            print_streamed(cx, &entry)?;
        }
        if until_passed || limit.is_some_and(|limit| seen.printed >= limit) {
            return Ok(());
        }
        tokio::select! {
            _ = &mut interrupted => return Ok(()),
            () = tokio::time::sleep(args.interval) => {}
        }
    }
}

/// One entry as it arrives: a fixed-width row, a JSON line or a YAML item.
fn print_streamed(cx: &mut Context, entry: &Entry) -> Result<(), CliError> {
    let text = match cx.printer.format() {
        Format::Table => row(&entry.cells()),
        Format::Json => {
            let view = Streamed(entry);
            serde_json::to_string(&view).map_err(|e| CliError::io("-", std::io::Error::other(e)))?
                + "\n"
        }
        Format::Yaml => serde_yaml::to_string(&[Streamed(entry)])
            .map_err(|e| CliError::io("-", std::io::Error::other(e)))?,
    };
    cx.printer.write(text.as_bytes())?;
    cx.printer.flush()
}

/// A table row of fixed widths (a time is 20 characters), printed at once.
fn row(cells: &[String]) -> String {
    match cells {
        [time, op, entity, name] => format!("{time:<20}  {op:<6}  {entity:<10}  {name}\n"),
        _ => cells.join("  ") + "\n",
    }
}

struct Streamed<'a>(&'a Entry);

impl Serialize for Streamed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.view(true, serializer)
    }
}

/// The result of `wal truncate`.
#[derive(Debug, Serialize)]
struct Truncated {
    before: String,
}

impl Show for Truncated {
    const COLUMNS: &'static [&'static str] = &["BEFORE"];

    fn cells(&self) -> Vec<String> {
        vec![self.before.clone()]
    }

    fn alone(&self) -> Option<String> {
        Some(format!("truncated the entries before {}", self.before))
    }

    fn view<S: Serializer>(&self, _raw: bool, serializer: S) -> Result<S::Ok, S::Error> {
        self.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, seconds: i64) -> WalEntry {
        WalEntry {
            id: id.into(),
            timestamp: Some(Timestamp { seconds, nanos: 0 }),
            ..WalEntry::default()
        }
    }

    #[test]
    fn the_follower_prints_each_entry_once_across_polls() {
        let mut seen = Seen::default();
        // First poll: a, b (one transaction at t=1), c at t=2.
        let first: Vec<bool> = [entry("a", 1), entry("b", 1), entry("c", 2)]
            .iter()
            .map(|e| seen.admit(e))
            .collect();
        assert_eq!(first, [true, true, true]);
        // The next poll starts at t=2 inclusive: c again, then d (t=2) and e.
        let second: Vec<bool> = [entry("c", 2), entry("d", 2), entry("e", 3)]
            .iter()
            .map(|e| seen.admit(e))
            .collect();
        assert_eq!(second, [false, true, true]);
        assert_eq!(seen.printed, 5);
    }
}
