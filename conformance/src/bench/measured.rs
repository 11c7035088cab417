//! A server under measurement: its connections and where its CPU time is read.
//!
//! Each target gets `--connections` separate HTTP/2 connections (one tonic
//! `Channel` each: a channel multiplexes all its calls over one
//! connection, so several are needed to spread load the way many clients
//! would). A run on a target is summarised with the server's CPU time per
//! call when its process or threads are local.
//!
//! A target may need credentials: `--tls-ca` (an `https://` address whose
//! certificate that CA signed) and `--header KEY=VALUE` (a bearer token,
//! say), sent with every call, the preload's included, by [`Headers`].

use std::{
    path::PathBuf,
    str::FromStr,
    sync::{Arc, atomic::AtomicBool},
};

use anyhow::Context;
use tonic::{
    Request, Status,
    metadata::{AsciiMetadataKey, AsciiMetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
};

use super::{
    dataset::Dataset,
    load::{self, LoadPlan},
    procfs::CpuSource,
    report::RunReport,
};
use crate::api::{Api, Packaged};

/// A server under measurement: how to reach it and where its CPU time is read.
#[derive(Debug)]
pub struct MeasuredServer {
    /// `null`, `target`, or a scaling step's name.
    pub label: String,
    /// Its URL.
    pub addr: String,
    /// Separate HTTP/2 connections to it.
    pub channels: Vec<Conn>,
    /// Its process or threads, when they are local.
    pub cpu: Option<CpuSource>,
}

impl MeasuredServer {
    /// Opens `connections` HTTP/2 connections to `addr`.
    pub async fn connect(
        label: &str,
        addr: &str,
        connections: usize,
        cpu: Option<CpuSource>,
    ) -> anyhow::Result<Self> {
        Self::connect_with(label, addr, connections, cpu, &Access::default()).await
    }

    /// [`MeasuredServer::connect`] with TLS and headers.
    pub async fn connect_with(
        label: &str,
        addr: &str,
        connections: usize,
        cpu: Option<CpuSource>,
        access: &Access,
    ) -> anyhow::Result<Self> {
        let mut endpoint = Endpoint::from_shared(addr.to_owned())
            .with_context(|| format!("bad address {addr:?}"))?;
        if let Some(path) = &access.tls_ca {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read --tls-ca {}", path.display()))?;
            let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem));
            endpoint = endpoint.tls_config(tls).context("bad TLS settings")?;
        }
        let headers = Headers::parse(&access.headers)?;
        let mut channels = Vec::with_capacity(connections);
        for _ in 0..connections.max(1) {
            let channel = endpoint.connect().await;
            let channel = channel.with_context(|| format!("cannot connect to {addr}"))?;
            let channel = InterceptedService::new(channel, headers.clone());
            channels.push(Packaged::new(channel, access.api));
        }
        Ok(MeasuredServer {
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

/// One HTTP/2 connection whose calls carry the target's headers, under
/// the target's package.
pub type Conn = Packaged<InterceptedService<Channel, Headers>>;

/// How to reach a target that needs TLS or credentials.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// A PEM file with the CA that signed the worker's certificate.
    pub tls_ca: Option<PathBuf>,
    /// `KEY=VALUE` metadata sent with every call.
    pub headers: Vec<String>,
    /// The package the target serves the database API under.
    pub api: Api,
}

/// Metadata added to every call (none for a target without `--header`).
#[derive(Clone, Debug, Default)]
pub struct Headers(Arc<Vec<(AsciiMetadataKey, AsciiMetadataValue)>>);

impl Headers {
    /// From `KEY=VALUE` texts.
    pub fn parse(texts: &[String]) -> anyhow::Result<Self> {
        let mut headers = Vec::with_capacity(texts.len());
        for text in texts {
            let (key, value) = crate::target::parse_header(text)?;
            let bad = || anyhow::anyhow!("invalid --header {text:?}: expected an ASCII KEY=VALUE");
            let key = AsciiMetadataKey::from_str(&key).map_err(|_| bad())?;
            let value = AsciiMetadataValue::from_str(&value).map_err(|_| bad())?;
            headers.push((key, value));
        }
        Ok(Headers(Arc::new(headers)))
    }
}

impl Interceptor for Headers {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        for (key, value) in self.0.iter() {
            request.metadata_mut().insert(key.clone(), value.clone());
        }
        Ok(request)
    }
}
