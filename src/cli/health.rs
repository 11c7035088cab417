//! `distgo health`: the standard gRPC health check (`grpc.health.v1`).
//!
//! The worker serves `grpc.health.v1.Health` for the whole server (service
//! name `""`): SERVING while it runs, NOT_SERVING once it is shutting
//! down. The command prints the status and exits 1 unless it is SERVING,
//! so it works as a readiness probe: `until distgo health; do sleep 1; done`.

use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

use super::{Context, error::CliError, view::Health};

/// Runs `health`.
pub async fn run(cx: &mut Context) -> Result<(), CliError> {
    let request = HealthCheckRequest {
        service: String::new(),
    };
    let response = cx.clients.health().check(request).await?.into_inner();
    let status = response.status();
    cx.printer.one(&Health {
        status: status.as_str_name().to_owned(),
    })?;
    match status {
        ServingStatus::Serving => Ok(()),
        other => Err(CliError::NotServing(other.as_str_name().to_owned())),
    }
}
