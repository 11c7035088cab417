//! The model on a small story, told request by request: creates that
//! collide or miss a parent, violations reported together, a listing that
//! crosses a page while its items are deleted, and a cascade.

use super::*;

fn name(segs: &[&str]) -> LocalName {
    LocalName::Name(segs.iter().map(|s| (*s).to_owned()).collect())
}

fn create(kind: K, parent: &[&str], id: &str, field: &str) -> Op {
    Op::Create {
        kind,
        parent: name(parent),
        id: id.into(),
        body_id: String::new(),
        field: field.into(),
    }
}

#[test]
fn the_model_follows_the_spec_on_a_small_story() {
    let mut m = Model::default();
    assert_eq!(
        m.step(&create(K::Db, &[], "a", "A")),
        Expect::Resource(vec!["a".into()], "A".into())
    );
    assert_eq!(
        m.step(&create(K::Db, &[], "a", "A")),
        Expect::Error(Code::AlreadyExists, vec![])
    );
    assert_eq!(
        m.step(&create(K::Coll, &["b"], "x", "")),
        Expect::Error(Code::NotFound, vec![])
    );
    assert_eq!(
        m.step(&create(K::Doc, &["a", "x"], "a b", "[]")),
        Expect::Error(
            Code::InvalidArgument,
            vec!["document.value".into(), "document_id".into()]
        )
    );
    m.step(&create(K::Coll, &["a"], "x", ""));
    for id in ["d", "b", "c"] {
        m.step(&create(K::Doc, &["a", "x"], id, "{}"));
    }
    let list = |token| Op::List {
        kind: K::Doc,
        parent: name(&["a", "x"]),
        size: 2,
        token,
    };
    let Expect::Page(items, true) = m.step(&list(Tok::None)) else {
        panic!()
    };
    assert_eq!(items.len(), 2);
    m.step(&Op::Delete {
        kind: K::Doc,
        name: name(&["a", "x", "c"]),
    });
    let Expect::Page(rest, false) = m.step(&list(Tok::Issued(0))) else {
        panic!()
    };
    assert_eq!(rest[0].0, ["a", "x", "d"]);
    m.step(&Op::Delete {
        kind: K::Db,
        name: name(&["a"]),
    });
    assert_eq!(
        m.step(&Op::Get {
            kind: K::Coll,
            name: name(&["a", "x"])
        }),
        Expect::Error(Code::NotFound, vec![])
    );
}
