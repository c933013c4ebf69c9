//! Checks of a kubeconfig user's credentials before kube-rs uses them.
//!
//! kube-rs panics when a bearer token cannot be an HTTP header value (a newline in `token:`), and
//! runs exec credential plugins with a blocking call that has no deadline, while building the
//! client. So palisade looks first: static tokens must be header-safe, and the exec plugin is run
//! once here, as kube-rs would run it, under a deadline; a hung plugin is killed and named.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use color_eyre::eyre::{Result, eyre};
use hyper::header::HeaderValue;
use kube::config::{AuthInfo, ExecConfig, ExecInteractiveMode};
use secrecy::ExposeSecret;
use tokio::time::Instant;

/// Refuses tokens that cannot be sent as `Authorization: Bearer TOKEN`.
pub fn check_static(auth: &AuthInfo, user: &str) -> Result<()> {
    if let Some(token) = &auth.token {
        check_token(
            token.expose_secret(),
            &format!("the token of kubeconfig user `{user}`"),
        )?;
    }
    if let Some(provider) = &auth.auth_provider {
        for key in ["id-token", "access-token"] {
            if let Some(token) = provider.config.get(key) {
                check_token(
                    token,
                    &format!(
                        "the {key} of the {} auth provider of kubeconfig user `{user}`",
                        provider.name
                    ),
                )?;
            }
        }
    }
    Ok(())
}

/// Whether `token` can be a bearer header; the message names `what` and never the token.
fn check_token(token: &str, what: &str) -> Result<()> {
    match HeaderValue::from_str(&format!("Bearer {token}")) {
        Ok(_) => Ok(()),
        Err(_) => Err(eyre!(
            "{what} cannot be sent in an HTTP header: it contains {}; fix the kubeconfig",
            describe_bad_bytes(token)
        )),
    }
}

fn describe_bad_bytes(token: &str) -> &'static str {
    if token.contains(['\n', '\r']) {
        "a line break"
    } else if token.chars().any(char::is_control) {
        "a control character"
    } else {
        "characters that are not allowed"
    }
}

/// How the exec plugin is named in messages: its command, as written in the kubeconfig.
pub fn plugin_name(exec: &ExecConfig) -> String {
    exec.command.clone().unwrap_or_default()
}

/// Runs `exec` once, as kube-rs will, and fails if it does not finish by `deadline` (the plugin
/// is killed), fails, or returns a token that cannot be a header.
pub async fn check_exec(exec: &ExecConfig, user: &str, deadline: Instant) -> Result<()> {
    let name = plugin_name(exec);
    let Some(command) = exec.command.as_deref().filter(|c| !c.is_empty()) else {
        return Err(eyre!(
            "the exec credential plugin of kubeconfig user `{user}` names no command"
        ));
    };
    let interactive = exec.interactive_mode != Some(ExecInteractiveMode::Never);
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(exec.args.iter().flatten())
        .envs(exec.env.iter().flatten().filter_map(env_pair))
        .env("KUBERNETES_EXEC_INFO", exec_info(exec, interactive))
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    if interactive {
        // A plugin may ask for a login on the terminal, as it does under kubectl.
        cmd.stdin(Stdio::inherit()).stderr(Stdio::inherit());
    } else {
        cmd.stdin(Stdio::null()).stderr(Stdio::piped());
    }
    for variable in exec.drop_env.iter().flatten() {
        cmd.env_remove(variable);
    }
    let child = cmd.spawn().map_err(|e| {
        let hint = exec
            .install_hint
            .as_deref()
            .map(|h| format!("\n{}", h.trim()))
            .unwrap_or_default();
        eyre!("cannot run the credential plugin `{name}` of kubeconfig user `{user}`: {e}{hint}")
    })?;
    let budget = deadline.saturating_duration_since(Instant::now());
    // On timeout the child is dropped, which kills it.
    let output = match tokio::time::timeout_at(deadline, child.wait_with_output()).await {
        Ok(output) => output.map_err(|e| {
            eyre!("the credential plugin `{name}` of kubeconfig user `{user}` failed: {e}")
        })?,
        Err(_) => {
            return Err(eyre!(
                "the credential plugin `{name}` of kubeconfig user `{user}` did not answer within {}; \
                 it was stopped. Run it by hand to see what it waits for (a login?), then retry",
                seconds(budget)
            ));
        }
    };
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let said = said.trim();
        return Err(eyre!(
            "the credential plugin `{name}` of kubeconfig user `{user}` failed ({}){}",
            output.status,
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        ));
    }
    let credential: serde_json::Value = crate::yaml::from_slice(&output.stdout).map_err(|e| {
        eyre!(
            "the credential plugin `{name}` of kubeconfig user `{user}` printed no ExecCredential: {e}"
        )
    })?;
    if let Some(token) = credential
        .pointer("/status/token")
        .and_then(serde_json::Value::as_str)
    {
        check_token(
            token,
            &format!("the token from the credential plugin `{name}` of kubeconfig user `{user}`"),
        )?;
    }
    Ok(())
}

fn env_pair(entry: &HashMap<String, String>) -> Option<(&String, &String)> {
    Some((entry.get("name")?, entry.get("value")?))
}

/// The `KUBERNETES_EXEC_INFO` kube-rs gives the plugin.
fn exec_info(exec: &ExecConfig, interactive: bool) -> String {
    let mut spec = serde_json::json!({"interactive": interactive});
    if exec.provide_cluster_info
        && let Some(cluster) = &exec.cluster
    {
        spec["cluster"] = serde_json::to_value(cluster).unwrap_or_default();
    }
    serde_json::json!({
        "apiVersion": exec.api_version,
        "kind": "ExecCredential",
        "spec": spec,
    })
    .to_string()
}

fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64().round())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(yaml: &str) -> AuthInfo {
        crate::yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn tokens_with_line_breaks_are_refused_by_user_without_the_token() {
        let err = check_static(&auth("token: \"abc\\ndef-secret\""), "ops").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("kubeconfig user `ops`") && message.contains("line break"),
            "{message}"
        );
        assert!(
            !message.contains("def-secret"),
            "the token leaked: {message}"
        );
        let provider = "auth-provider: {name: oidc, config: {id-token: \"a\\u0007b\"}}";
        let err = check_static(&auth(provider), "ops").unwrap_err();
        assert!(err.to_string().contains("id-token"), "{err}");
        assert!(check_static(&auth("token: abc.def-ghi_123"), "ops").is_ok());
        assert!(check_static(&auth("{}"), "ops").is_ok());
    }

    #[tokio::test]
    async fn a_plugin_that_hangs_is_stopped_and_named() {
        let exec: ExecConfig = crate::yaml::from_str(
            "{apiVersion: client.authentication.k8s.io/v1, command: sleep, args: ['30'], interactiveMode: Never}",
        )
        .unwrap();
        let started = Instant::now();
        let deadline = started + Duration::from_millis(300);
        let err = check_exec(&exec, "ops", deadline).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        let message = err.to_string();
        assert!(
            message.contains("credential plugin `sleep`") && message.contains("user `ops`"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn plugin_output_is_checked() {
        let exec = |script: &str| -> ExecConfig {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": "sh",
                "args": ["-c", script],
                "interactiveMode": "Never",
            }))
            .unwrap()
        };
        let deadline = || Instant::now() + Duration::from_secs(10);
        let good = r#"echo '{"kind":"ExecCredential","status":{"token":"t0k"}}'"#;
        check_exec(&exec(good), "ops", deadline()).await.unwrap();
        let newline = r#"printf '{"kind":"ExecCredential","status":{"token":"a\\nb"}}'"#;
        let err = check_exec(&exec(newline), "ops", deadline())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("line break"), "{err}");
        let failing = "echo 'no session' >&2; exit 3";
        let err = check_exec(&exec(failing), "ops", deadline())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no session"), "{err}");
        let missing: ExecConfig =
            crate::yaml::from_str("{command: /nonexistent/plugin, installHint: 'apt install it'}")
                .unwrap();
        let err = check_exec(&missing, "ops", deadline()).await.unwrap_err();
        assert!(err.to_string().contains("apt install it"), "{err}");
    }
}
