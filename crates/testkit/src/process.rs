//! Running java without ever leaving it behind.
//!
//! Why a watchdog: the shared instance lives in a `static`, and Rust never drops statics, so no
//! destructor would stop its java when the test binary exits; a test process can also be killed
//! (`kill -9`, a CI timeout) and then runs no code at all. A JVM does not notice its parent dying, so
//! without help it would keep running, and keep its port, forever.
//!
//! How it works: we never start java directly. We start a tiny `bash` wrapper ([`WATCHDOG`]) whose
//! standard input is a pipe whose only write end is held by the test process. The wrapper starts java
//! in the background and a watcher that reads that pipe. Nobody ever writes to it, so the read only
//! returns at end of file, which the kernel delivers as soon as the test process is gone, however it
//! ended (normal exit, panic, `SIGKILL`). The watcher then sends java `SIGTERM`, and `SIGKILL` if it is
//! still there 10 s later. The wrapper itself exits as soon as java does, with java's status, which is
//! how we notice that java could not start (for example because its port was taken).
//!
//! Stopping an instance on purpose (`OwnedDynamoDbLocal::stop` and its `Drop`) is the
//! same thing done early: close our end of the pipe, then wait for the wrapper to exit.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::table::repo_root;

/// The wrapper run as `bash -c WATCHDOG testkit-dynamodb-local <dir> <port>`.
///
/// stdin: the watchdog pipe. stdout: one line, java's pid, then closed. stderr: java's stdout and stderr.
pub const WATCHDOG: &str = r#"
set -u
dir=$1 port=$2
exec 3<&0 </dev/null
java "-Djava.library.path=$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
  -inMemory -sharedDb -disableTelemetry -port "$port" >&2 3<&- &
java_pid=$!
echo "$java_pid"
exec 1>&-
(
  while IFS= read -r -u 3 _; do :; done
  kill -TERM "$java_pid" 2>/dev/null || exit 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$java_pid" 2>/dev/null || exit 0
    sleep 0.1
  done
  kill -KILL "$java_pid" 2>/dev/null
) &
watcher=$!
exec 3<&-
wait "$java_pid"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"#;

/// How many lines of java's output we keep for error messages.
const KEPT_LINES: usize = 200;
/// How many of them an error message shows.
const SHOWN_LINES: usize = 40;
/// How long `JavaProcess::stop` waits for java to go after closing the pipe (the watcher itself
/// escalates to `SIGKILL` after 10 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The directory holding `DynamoDBLocal.jar`, downloading DynamoDB Local first if needed, by running
/// `infra/dynamodb-local.sh fetch` (which also checks for Java 17+). Cached for the process.
pub fn fetch_dynamodb_local() -> anyhow::Result<PathBuf> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    if let Some(dir) = DIR.get() {
        return Ok(dir.clone());
    }
    let script = repo_root().join("infra/dynamodb-local.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg("fetch")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running bash {}", script.display()))?;
    if !output.status.success() {
        anyhow::bail!(
            "{} fetch failed ({}):\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    anyhow::ensure!(
        dir.join("DynamoDBLocal.jar").is_file(),
        "{} fetch printed {:?}, which holds no DynamoDBLocal.jar",
        script.display(),
        dir
    );
    Ok(DIR.get_or_init(|| dir).clone())
}

/// A port that was free on 127.0.0.1 a moment ago (the OS picks it). Someone may take it before java
/// binds it; the caller retries with another one.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("binding 127.0.0.1:0 to pick a port")?;
    Ok(listener.local_addr()?.port())
}

/// Whether java's output says it could not bind its port.
pub fn is_bind_failure(output: &str) -> bool {
    output.contains("BindException")
        || output.contains("Address already in use")
        || output.contains("Failed to bind")
}

/// DynamoDB Local running under the [`WATCHDOG`] wrapper.
#[derive(Debug)]
pub(crate) struct JavaProcess {
    java_pid: u32,
    state: Mutex<State>,
    output: Arc<Mutex<VecDeque<String>>>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct State {
    wrapper: Child,
    /// Our end of the watchdog pipe; dropping it tells the watcher to stop java.
    pipe: Option<ChildStdin>,
    exited: Option<ExitStatus>,
}

impl JavaProcess {
    /// Starts DynamoDB Local from `dir` on `port`. Returns at once; the caller waits for readiness.
    pub(crate) fn spawn(dir: &Path, port: u16) -> anyhow::Result<Self> {
        let mut wrapper = Command::new("bash")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("testkit-dynamodb-local")
            .arg(dir)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning bash to run DynamoDB Local")?;
        let pipe = wrapper.stdin.take();
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let reader = wrapper.stderr.take().map(|stderr| {
            let output = Arc::clone(&output);
            std::thread::spawn(move || keep_tail(stderr, &output))
        });
        let mut first_line = String::new();
        if let Some(stdout) = wrapper.stdout.take() {
            BufReader::new(stdout)
                .read_line(&mut first_line)
                .context("reading java's pid from the wrapper")?;
        }
        let java_pid = first_line.trim().parse().with_context(|| {
            format!("the DynamoDB Local wrapper printed {first_line:?} instead of java's pid")
        })?;
        Ok(Self {
            java_pid,
            state: Mutex::new(State {
                wrapper,
                pipe,
                exited: None,
            }),
            output,
            reader: Mutex::new(reader),
        })
    }

    pub(crate) fn java_pid(&self) -> u32 {
        self.java_pid
    }

    /// `Some` once java (and so the wrapper) has exited.
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        let mut state = lock(&self.state);
        if state.exited.is_none() {
            state.exited = state.wrapper.try_wait().ok().flatten();
        }
        state.exited
    }

    /// Stops java and waits until it has exited. Idempotent. Blocks for at most [`STOP_TIMEOUT`].
    pub(crate) fn stop(&self) {
        let mut state = lock(&self.state);
        if state.exited.is_some() {
            return;
        }
        drop(state.pipe.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            match state.wrapper.try_wait() {
                Ok(Some(status)) => {
                    state.exited = Some(status);
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        // The watcher should have killed java by now; do it ourselves, then the wrapper.
        let _ = Command::new("kill")
            .args(["-KILL", &self.java_pid.to_string()])
            .stderr(Stdio::null())
            .status();
        let _ = state.wrapper.kill();
        state.exited = state.wrapper.wait().ok();
    }

    /// The last lines java printed, ready to append to an error message.
    pub(crate) fn output_tail(&self) -> String {
        // Once java has exited, let the reader drain the pipe so the message has java's last words.
        if self.exit_status().is_some() {
            let deadline = Instant::now() + Duration::from_secs(2);
            let reader = lock(&self.reader);
            while reader.as_ref().is_some_and(|r| !r.is_finished()) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let output = lock(&self.output);
        if output.is_empty() {
            return "(DynamoDB Local printed nothing)".to_owned();
        }
        let skip = output.len().saturating_sub(SHOWN_LINES);
        let mut text = format!(
            "--- DynamoDB Local output (last {} lines) ---",
            output.len() - skip
        );
        for line in output.iter().skip(skip) {
            text.push('\n');
            text.push_str(line);
        }
        text
    }
}

fn keep_tail(stream: impl Read, output: &Mutex<VecDeque<String>>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let mut output = lock(output);
                if output.len() == KEPT_LINES {
                    output.pop_front();
                }
                output.push_back(String::from_utf8_lossy(&line).trim_end().to_owned());
            }
        }
    }
}

/// Locks, ignoring poisoning: the data (a child handle, some lines of text) stays usable after a panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The port-retry logic in `launch` depends on recognising java's own words for a taken port.
    #[test]
    fn a_taken_port_is_recognised_from_javas_output() {
        let dir = fetch_dynamodb_local().unwrap();
        let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let java = JavaProcess::spawn(&dir, port).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while java.exit_status().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let status = java.exit_status();
        let output = java.output_tail();
        java.stop();
        assert!(status.is_some_and(|s| !s.success()), "{status:?}\n{output}");
        assert!(is_bind_failure(&output), "{output}");
    }

    #[test]
    fn other_failures_are_not_mistaken_for_a_taken_port() {
        assert!(!is_bind_failure(
            "Error: Invalid or corrupt jarfile /x/DynamoDBLocal.jar"
        ));
    }
}
