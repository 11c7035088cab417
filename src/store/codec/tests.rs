//! The command and record codecs: round trips, exact sizes, and bytes that
//! must never panic the decoder.

use proptest::prelude::*;

use super::*;

fn db() -> DatabaseName {
    DatabaseName {
        database: "shop".into(),
    }
}

fn time(nanos: i64) -> Timestamp {
    Timestamp::from_nanos(nanos)
}

/// Records that use every entity, every mutation, and awkward text.
pub(crate) fn sample_records() -> Vec<Record> {
    let cart = db().collection("cart");
    let doc = |value: &str| {
        Some(Arc::new(DocumentRow {
            value: value.into(),
            created_at: time(5),
            updated_at: time(6),
        }))
    };
    let entry = |n: u8, mutation, change| Entry {
        id: [n; 16],
        mutation,
        change,
    };
    vec![
        Record {
            seq: 1,
            timestamp: time(1_795_881_414_500_000_000),
            entries: vec![entry(
                1,
                Mutation::Create,
                Change::Database(
                    db(),
                    Some(DatabaseRow {
                        display_name: "Shop – ünïcödé ✓".into(),
                        created_at: time(-1),
                        updated_at: time(i64::MAX),
                    }),
                ),
            )],
        },
        Record {
            seq: 2,
            timestamp: time(2),
            entries: vec![
                entry(
                    2,
                    Mutation::Update,
                    Change::Collection(
                        cart.clone(),
                        Some(CollectionRow {
                            description: String::new(),
                            created_at: time(i64::MIN),
                            updated_at: time(0),
                        }),
                    ),
                ),
                entry(
                    3,
                    Mutation::Create,
                    Change::Document(cart.document("a.b_C-9"), doc("{\"k\": [1, 2e9]}")),
                ),
            ],
        },
        Record {
            seq: u64::MAX,
            timestamp: time(3),
            entries: vec![
                entry(
                    4,
                    Mutation::Delete,
                    Change::Document(cart.document(".."), None),
                ),
                entry(5, Mutation::Delete, Change::Collection(cart, None)),
                entry(6, Mutation::Delete, Change::Database(db(), None)),
            ],
        },
        Record {
            seq: 7,
            timestamp: time(7),
            entries: Vec::new(),
        },
    ]
}

fn encoded(record: &Record) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_record(record, &mut buf);
    buf
}

#[test]
fn every_record_round_trips() {
    for record in sample_records() {
        assert_eq!(decode_record(&encoded(&record)), Ok(record));
    }
}

#[test]
fn the_computed_length_is_the_encoded_length() {
    for record in sample_records() {
        assert_eq!(
            record_len(&record),
            encoded(&record).len(),
            "seq {}",
            record.seq
        );
    }
}

#[test]
fn the_layout_is_the_documented_one() {
    let record = &sample_records()[0];
    let bytes = encoded(record);
    assert_eq!(&bytes[..8], &1u64.to_le_bytes(), "seq");
    assert_eq!(&bytes[16..20], &1u32.to_le_bytes(), "entry count");
    assert_eq!(&bytes[20..36], &[1; 16], "uuid");
    assert_eq!(&bytes[36..38], &[1, 1], "database, create");
    assert_eq!(&bytes[38..42], &4u32.to_le_bytes(), "id length");
    assert_eq!(&bytes[42..46], b"shop");
    assert_eq!(bytes[46], 1, "has row");
}

#[test]
fn every_truncation_fails_cleanly() {
    for record in sample_records() {
        let bytes = encoded(&record);
        for cut in 0..bytes.len() {
            assert!(decode_record(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let mut bytes = encoded(&sample_records()[1]);
    bytes.push(0);
    let err = decode_record(&bytes).unwrap_err();
    assert!(err.what.contains("trailing"), "{err}");
}

#[test]
fn a_delete_with_a_row_is_refused() {
    let record = &sample_records()[2];
    let mut bytes = encoded(record);
    // The first entry's row flag: after seq, time, count, uuid, tags and
    // three ids ("shop", "cart", "..").
    let flag = 20 + 16 + 2 + (4 + 4) + (4 + 4) + (4 + 2);
    assert_eq!(bytes[flag], 0);
    bytes[flag] = 1;
    let err = decode_record(&bytes).unwrap_err();
    assert!(err.what.contains("contradicts"), "{err}");
}

#[test]
fn a_huge_count_is_refused_before_allocating() {
    let mut bytes = encoded(&sample_records()[3]);
    bytes[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = decode_record(&bytes).unwrap_err();
    assert!(err.what.contains("exceeds"), "{err}");
}

#[test]
fn bad_ids_are_refused() {
    let mut bytes = encoded(&sample_records()[0]);
    bytes[42] = b'/';
    let err = decode_record(&bytes).unwrap_err();
    assert!(err.what.contains("bad id"), "{err}");
}

proptest! {
    /// Whatever a damaged payload holds, decoding returns; it never panics.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_record(&bytes);
    }

    /// Any single changed byte either fails to decode or decodes to a
    /// record that re-encodes to exactly those bytes: the decoder never
    /// invents data the bytes do not say.
    #[test]
    fn a_changed_byte_decodes_faithfully_or_not_at_all(
        which in 0usize..4,
        position in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let mut bytes = encoded(&sample_records()[which]);
        let i = position.index(bytes.len());
        bytes[i] ^= xor;
        if let Ok(record) = decode_record(&bytes) {
            prop_assert_eq!(encoded(&record), bytes);
        }
    }
}

/// Commands that use every operation, both actions and awkward text.
pub(crate) fn sample_commands() -> Vec<Command> {
    let cart = db().collection("cart");
    let ops = vec![
        Op::CreateDatabase {
            id: None,
            display_name: "Shop – ünïcödé ✓".into(),
        },
        Op::UpdateDatabase {
            name: db(),
            display_name: "x".into(),
        },
        Op::DeleteDatabase { name: db() },
        Op::CreateCollection {
            parent: db(),
            id: Some("cart".into()),
            description: String::new(),
        },
        Op::UpdateCollection {
            name: cart.clone(),
            description: "d".into(),
        },
        Op::DeleteCollection { name: cart.clone() },
        Op::CreateDocument {
            parent: cart.clone(),
            id: Some("..".into()),
            value: "{\"k\": [1, 2e9]}".into(),
        },
        Op::UpdateDocument {
            name: cart.document("a"),
            value: " { } ".into(),
        },
        Op::DeleteDocument {
            name: cart.document("a"),
        },
    ];
    let mut with_request = Command::new(time(-3), [9; 16], Action::Write(ops.clone()));
    with_request.request_id = Some("req-ü-1".into());
    vec![
        Command::new(time(1_795_881_414_500_000_000), [1; 16], Action::Write(ops)),
        with_request,
        Command::new(time(0), [0; 16], Action::Write(Vec::new())),
        Command::new(
            time(5),
            [7; 16],
            Action::TrimHistory {
                before: time(i64::MAX),
            },
        ),
    ]
}

fn encoded_command(command: &Command) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_command(command, &mut buf);
    buf
}

#[test]
fn every_command_round_trips_at_its_computed_length() {
    for command in sample_commands() {
        let bytes = encoded_command(&command);
        assert_eq!(command_len(&command), bytes.len(), "{command:?}");
        assert_eq!(decode_command(&bytes), Ok(command));
    }
}

#[test]
fn every_truncated_command_fails_cleanly() {
    for command in sample_commands() {
        let bytes = encoded_command(&command);
        for cut in 0..bytes.len() {
            assert!(decode_command(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}

proptest! {
    /// Arbitrary bytes never panic the command decoder, and whatever
    /// decodes re-encodes to the same bytes.
    #[test]
    fn arbitrary_command_bytes_decode_faithfully_or_not_at_all(
        which in 0usize..4,
        position in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let mut bytes = encoded_command(&sample_commands()[which]);
        let i = position.index(bytes.len());
        bytes[i] ^= xor;
        if let Ok(command) = decode_command(&bytes) {
            prop_assert_eq!(encoded_command(&command), bytes);
        }
    }
}

#[test]
fn every_kind_of_outcome_round_trips() {
    use crate::error::{Error, Violation};
    let record = Arc::new(sample_records().remove(1));
    let outcomes: Vec<Outcome> = vec![
        Ok(Applied::Record(record)),
        Ok(Applied::Trimmed { records: 7 }),
        Ok(Applied::Noop),
        Err(Failed::at(2, Error::AlreadyExists("databases/a".into()))),
        Err(Failed::at(0, Error::NotFound("databases/b".into()))),
        Err(Failed::at(
            1,
            Error::InvalidArgument(vec![Violation::new("name", "bad")]),
        )),
        Err(Failed::at(0, Error::NotLeader(Some("127.0.0.1:1".into())))),
        Err(Failed::at(0, Error::Internal("x".into()))),
    ];
    for outcome in outcomes {
        let mut bytes = Vec::new();
        encode_outcome(&outcome, &mut bytes);
        let mut d = crate::encoding::Decoder::new(&bytes);
        assert_eq!(read_outcome(&mut d), Ok(outcome));
        assert_eq!(d.finish(), Ok(()));
    }
}
