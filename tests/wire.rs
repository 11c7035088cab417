//! The wire surface, written out and compared with a golden file.
//!
//! Interoperability with other distgo-db implementations depends on every
//! package, service, method, message, field name, number and type staying
//! exactly as `proto/`, the wire contract, has them. This test renders all
//! of them from the compiled descriptors into
//! `testdata/wire/wire__surface.snap`, a file a reviewer reads in one
//! sitting; any change to `proto/` shows up as
//! a snapshot diff that must be reviewed (`cargo insta review`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

use std::fmt::Write;

use prost::Message;
use prost_types::{
    FileDescriptorSet,
    field_descriptor_proto::{Label, Type},
};

#[test]
fn surface() {
    let out = render(|package| !package.starts_with("google."));
    insta::with_settings!({ snapshot_path => "../testdata/wire", prepend_module_to_snapshot => true }, {
        insta::assert_snapshot!(out);
    });
}

/// The master serves the worker's five database services "with the same
/// messages and numbers, under its own package name": rendered with the
/// package names swapped, the two packages are one text.
#[test]
fn the_master_database_package_repeats_the_worker_one_exactly() {
    let worker = render(|package| package == "worker.database.v1");
    let master = render(|package| package == "master.database.v1");
    assert!(worker.contains("service worker.database.v1.DocumentService"));
    assert_eq!(
        master.replace("master.database.v1", "worker.database.v1"),
        worker
    );
}

/// Every service, message and enum of the packages `wanted` selects, one
/// line per field, in package and file order.
fn render(wanted: impl Fn(&str) -> bool) -> String {
    let set = FileDescriptorSet::decode(distgo_db::proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut out = String::new();
    let mut files: Vec<_> = set.file.iter().filter(|f| wanted(f.package())).collect();
    files.sort_by_key(|f| (f.package().to_owned(), f.name().to_owned()));
    for file in files {
        let package = file.package();
        for service in &file.service {
            writeln!(out, "service {package}.{}", service.name()).unwrap();
            for method in &service.method {
                let short = |t: &str| t.trim_start_matches('.').to_owned();
                writeln!(
                    out,
                    "  rpc {}({}) returns ({})",
                    method.name(),
                    short(method.input_type()),
                    short(method.output_type())
                )
                .unwrap();
            }
        }
        for message in &file.message_type {
            writeln!(out, "message {package}.{}", message.name()).unwrap();
            for field in &message.field {
                let repeated = if field.label() == Label::Repeated {
                    "repeated "
                } else {
                    ""
                };
                let kind = match field.r#type() {
                    Type::Message | Type::Enum => {
                        field.type_name().trim_start_matches('.').to_owned()
                    }
                    other => format!("{other:?}").to_lowercase(),
                };
                let oneof = field
                    .oneof_index
                    .map(|i| format!(" (oneof {})", message.oneof_decl[i as usize].name()))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {} = {} : {repeated}{kind}{oneof}",
                    field.name(),
                    field.number()
                )
                .unwrap();
            }
        }
        for enumeration in &file.enum_type {
            writeln!(out, "enum {package}.{}", enumeration.name()).unwrap();
            for value in &enumeration.value {
                writeln!(out, "  {} = {}", value.name(), value.number()).unwrap();
            }
        }
    }
    out
}
