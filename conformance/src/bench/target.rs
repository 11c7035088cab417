//! A server under measurement: its connections and where its CPU time is read.
//!
//! Each target gets `--connections` separate HTTP/2 connections (one tonic
//! `Channel` each: a channel multiplexes all its calls over one
//! connection, so several are needed to spread load the way many clients
//! would). A run on a target is summarised with the server's CPU time per
//! call when its process or threads are local.

use std::sync::{Arc, atomic::AtomicBool};

use anyhow::Context;
use tonic::transport::{Channel, Endpoint};

use super::{
    dataset::Dataset,
    load::{self, LoadPlan},
    procfs::CpuSource,
    report::RunReport,
};

/// A server under measurement: how to reach it and where its CPU time is read.
#[derive(Debug)]
pub struct Target {
    /// `null`, `target`, or a scaling step's name.
    pub label: String,
    /// Its URL.
    pub addr: String,
    /// Separate HTTP/2 connections to it.
    pub channels: Vec<Channel>,
    /// Its process or threads, when they are local.
    pub cpu: Option<CpuSource>,
}

impl Target {
    /// Opens `connections` HTTP/2 connections to `addr`.
    pub async fn connect(
        label: &str,
        addr: &str,
        connections: usize,
        cpu: Option<CpuSource>,
    ) -> anyhow::Result<Self> {
        let endpoint = Endpoint::from_shared(addr.to_owned())
            .with_context(|| format!("bad address {addr:?}"))?;
        let mut channels = Vec::with_capacity(connections);
        for _ in 0..connections.max(1) {
            let channel = endpoint.connect().await;
            channels.push(channel.with_context(|| format!("cannot connect to {addr}"))?);
        }
        Ok(Target {
            label: label.to_owned(),
            addr: addr.to_owned(),
            channels,
            cpu,
        })
    }

    /// Runs `plan` on `dataset` and summarises it as the run `name`, with the
    /// server's CPU time per call when it can be read.
    pub async fn measure(
        &self,
        name: &str,
        dataset: &Arc<Dataset>,
        plan: &LoadPlan,
        stop: &Arc<AtomicBool>,
    ) -> anyhow::Result<RunReport> {
        let cpu_time = || self.cpu.as_ref().and_then(CpuSource::cpu_time);
        let before = cpu_time();
        let measured = load::run(&self.label, &self.channels, dataset, plan, stop).await?;
        let after = cpu_time();
        let mut report = RunReport::new(&self.label, &self.addr, name, plan.concurrency, &measured);
        if let (Some(before), Some(after)) = (before, after)
            && measured.calls > 0
        {
            let us = (after - before).as_secs_f64() * 1e6 / measured.calls as f64;
            report.server_cpu_us_per_call = Some((us * 10.0).round() / 10.0);
        }
        Ok(report)
    }
}
