//! One client connection: read, run every complete request, write all the
//! replies of the batch with one write (pipelining).
//!
//! The input buffer holds what has not been parsed yet; a request that
//! arrived in part stays there until the rest comes. A protocol error
//! replies `-ERR Protocol error: ...` after the replies of the requests
//! before it, then closes the connection, as Redis does. A client whose
//! unparsed input exceeds `client-query-buffer-limit` is closed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Shared;
use super::clients::ClientInfo;
use crate::FsyncPolicy;
use crate::cmd::xread::BlockedRead;
use crate::cmd::{self, Ctx, Flow, Session};
use crate::group::ReadFrom;
use crate::resp::Reply;
use crate::resp::request::{self, Checked, Request, RequestLimits};
use crate::stream::StreamId;

/// A long pipeline's replies are written in pieces of about this size, so
/// one batch cannot make the output buffer grow without bound.
const YIELD_OUTPUT: usize = 256 * 1024;
/// Reads are made with at least this much free space in the buffer.
const READ_CHUNK: usize = 16 * 1024;
/// An output buffer that grew beyond this is released after the write, so
/// one huge reply does not pin memory for the life of the connection.
const KEEP_OUTPUT_CAPACITY: usize = 1024 * 1024;

/// Answers a connection refused because of `maxclients`.
pub async fn refuse(mut stream: TcpStream) {
    let _ = stream
        .write_all(b"-ERR max number of clients reached\r\n")
        .await;
    let _ = stream.shutdown().await;
}

enum After {
    Continue,
    /// The replies grew past [`YIELD_OUTPUT`]: write them, then run the
    /// rest of the batch.
    Yield,
    Close,
    Shutdown,
    Block(Box<BlockedRead>),
}

/// How a blocked read ended.
enum Unblocked {
    /// The reply was written to the output buffer.
    Replied,
    /// The client went away.
    Closed,
    /// The server is shutting down.
    Shutdown,
}

/// Why a connection must end whatever it is doing.
enum Stop {
    /// The server is shutting down.
    Shutdown,
    /// CLIENT KILL targeted this client.
    Killed,
}

/// Completes when the server shuts down or the client is killed. One such
/// future lives as long as the connection and is polled by every wait, so
/// each read does not register (and then drop) fresh waiters.
type StopSignal<'a> = Pin<&'a mut (dyn Future<Output = Stop> + Send)>;

/// Serves one client until it disconnects, QUITs, errs or the server stops.
pub async fn serve(shared: Arc<Shared>, mut stream: TcpStream, info: Arc<ClientInfo>) {
    let id = info.id;
    let mut session = Session::new(info.clone());
    session.authenticated = !shared.auth_required();
    let mut signal = shared.shutdown_signal();
    let stop = async move {
        tokio::select! {
            biased;
            _ = signal.wait_for(|v| *v) => Stop::Shutdown,
            () = info.killed() => Stop::Killed,
        }
    };
    let mut stop = std::pin::pin!(stop);
    let mut inbuf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut errors: Vec<String> = Vec::new();
    let mut req = Request::default();
    'conn: loop {
        // Run what is buffered (nothing on the first turn), answer, then read.
        let after = process(
            &shared,
            &mut session,
            &mut inbuf,
            &mut out,
            &mut errors,
            &mut req,
        );
        shared.stats.record_errors(&errors);
        errors.clear();
        let qbuf = inbuf.len();
        session.client.update(|m| m.qbuf = qbuf);
        if flush(&shared, &mut session, &mut stream, &mut out)
            .await
            .is_err()
        {
            break;
        }
        match after {
            After::Continue => {}
            After::Yield => continue 'conn,
            After::Close => break,
            After::Shutdown => {
                shared.request_shutdown();
                break;
            }
            After::Block(spec) => {
                let how = block(
                    &shared,
                    &mut session,
                    &mut stream,
                    &mut inbuf,
                    &mut out,
                    &spec,
                    stop.as_mut(),
                )
                .await;
                match how {
                    Unblocked::Replied => {
                        if flush(&shared, &mut session, &mut stream, &mut out)
                            .await
                            .is_err()
                        {
                            break;
                        }
                        // Requests that arrived meanwhile run before reading more.
                        continue 'conn;
                    }
                    Unblocked::Closed | Unblocked::Shutdown => break,
                }
            }
        }
        if inbuf.len() > shared.settings().client_query_buffer_limit() {
            tracing::warn!("Closing client {id} that reached max query buffer length");
            break;
        }
        if inbuf.capacity() - inbuf.len() < READ_CHUNK / 4 {
            inbuf.reserve(READ_CHUNK);
        }
        let idle_timeout = shared.settings().timeout();
        let read = async {
            if idle_timeout == 0 {
                Some(stream.read_buf(&mut inbuf).await)
            } else {
                tokio::time::timeout(
                    Duration::from_secs(idle_timeout),
                    stream.read_buf(&mut inbuf),
                )
                .await
                .ok()
            }
        };
        let n = tokio::select! {
            biased;
            _ = stop.as_mut() => break,
            r = read => match r {
                None => {
                    tracing::debug!("Closing idle client {id}");
                    break;
                }
                Some(Ok(0)) | Some(Err(_)) => break,
                Some(Ok(n)) => n,
            },
        };
        shared
            .stats
            .total_net_input_bytes
            .fetch_add(n as u64, Relaxed);
        shared.stats.total_reads_processed.fetch_add(1, Relaxed);
        session.client.touch();
    }
    let _ = stream.shutdown().await;
    shared.clients.unregister(id);
}

/// Writes the batch's replies. A batch that used the store first has the
/// log's buffered records written to the file (so a process crash cannot
/// lose what a reply acknowledges), after yielding once so that every other
/// connection with requests ready runs its batch first and one write covers
/// them all. Under `appendfsync always` it then waits until the log is
/// durable up to its end, so no reply acknowledges (or shows) a write a
/// crash could lose. If the log cannot be written or synced the replies are
/// dropped and the connection closed.
async fn flush(
    shared: &Shared,
    session: &mut Session,
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
) -> Result<(), ()> {
    let touched = std::mem::take(&mut session.touched_store);
    let wal = shared.store.wal();
    if touched && wal.has_unwritten() {
        tokio::task::yield_now().await;
        if let Err(e) = wal.flush() {
            tracing::warn!("Closing client {}: {e}", session.client.id);
            return Err(());
        }
    }
    if touched && shared.store.fsync_policy() == FsyncPolicy::Always {
        let end = shared.store.log_end();
        if let Err(e) = shared.durability.wait(end).await {
            tracing::warn!("Closing client {}: {e}", session.client.id);
            return Err(());
        }
    }
    if out.is_empty() {
        return Ok(());
    }
    stream.write_all(out).await.map_err(|_| ())?;
    shared
        .stats
        .total_net_output_bytes
        .fetch_add(out.len() as u64, Relaxed);
    shared.stats.total_writes_processed.fetch_add(1, Relaxed);
    out.clear();
    if out.capacity() > KEEP_OUTPUT_CAPACITY {
        *out = Vec::with_capacity(READ_CHUNK);
    }
    Ok(())
}

/// Waits for entries for a blocked XREAD or XREADGROUP, the timeout, the client leaving or
/// shutdown. Bytes the client sends meanwhile are kept for later.
async fn block(
    shared: &Shared,
    session: &mut Session,
    stream: &mut TcpStream,
    inbuf: &mut Vec<u8>,
    out: &mut Vec<u8>,
    spec: &BlockedRead,
    mut stop: StopSignal<'_>,
) -> Unblocked {
    let notify = Arc::new(tokio::sync::Notify::new());
    let keys: Vec<Vec<u8>> = spec.streams.iter().map(|(k, _)| k.clone()).collect();
    // Registered before the first look, so a write in between leaves a permit.
    let _registered = shared.waiters.register(session.client.id, &keys, &notify);
    let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
    let refs: Vec<(&[u8], StreamId)> = spec
        .streams
        .iter()
        .map(|(k, id)| (k.as_slice(), *id))
        .collect();
    session.client.update(|m| m.blocked = true);
    let mut errors = Vec::new();
    let group_streams: Vec<(Vec<u8>, ReadFrom)> = spec
        .streams
        .iter()
        .map(|(k, _)| (k.clone(), ReadFrom::New))
        .collect();
    let outcome = loop {
        let mut reply = Reply::new(out, session.proto, &mut errors);
        if let Some(group) = &spec.group {
            // A group read delivers (a write): its reply waits for durability.
            session.touched_store = true;
            // A delivery is a write: like a command, it runs under the gate
            // so it never lands inside another client's EXEC.
            let read = {
                let _gate = shared
                    .gate
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                cmd::xreadgroup::read(&shared.store, group, &group_streams, spec.count)
            };
            match read {
                Err(crate::Error::NoGroupRead { .. }) => {
                    reply.error(gone_reason(shared, &group_streams));
                    break Unblocked::Replied;
                }
                Err(e) => {
                    reply.error(&e.to_string());
                    break Unblocked::Replied;
                }
                Ok(found) if !found.is_empty() => {
                    cmd::xreadgroup::write_group_streams(&mut reply, &found);
                    cmd::xreadgroup::wake_dead_letters(shared, &group.group, &found);
                    break Unblocked::Replied;
                }
                Ok(_) => {}
            }
        } else {
            match shared.store.xread(&refs, spec.count) {
                Err(e) => {
                    reply.error(&e.to_string());
                    break Unblocked::Replied;
                }
                Ok(found) if !found.is_empty() => {
                    session.touched_store = true;
                    cmd::xread::write_streams(&mut reply, &found);
                    break Unblocked::Replied;
                }
                Ok(_) => {}
            }
        }
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        if inbuf.capacity() - inbuf.len() < READ_CHUNK / 4 {
            inbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            why = stop.as_mut() => break match why {
                Stop::Shutdown => Unblocked::Shutdown,
                Stop::Killed => Unblocked::Closed,
            },
            () = notify.notified() => {}
            () = sleep => {
                Reply::new(out, session.proto, &mut errors).null_array();
                break Unblocked::Replied;
            }
            r = stream.read_buf(inbuf) => match r {
                Ok(0) | Err(_) => break Unblocked::Closed,
                Ok(n) => {
                    shared.stats.total_net_input_bytes.fetch_add(n as u64, Relaxed);
                }
            },
        }
    };
    shared.stats.record_errors(&errors);
    session.client.update(|m| m.blocked = false);
    outcome
}
/// Why a blocked group read lost its group, in Redis 7.0's words: the
/// stream key was deleted, or the group was destroyed (or the key now holds
/// a stream without it).
fn gone_reason(shared: &Shared, streams: &[(Vec<u8>, ReadFrom)]) -> &'static str {
    if streams
        .iter()
        .any(|(k, _)| shared.store.key_type(k) == "none")
    {
        "UNBLOCKED the stream key no longer exists"
    } else {
        "NOGROUP the consumer group this client was blocked on no longer exists"
    }
}

/// Runs every complete request in `inbuf`, appending replies to `out`, and
/// removes what was consumed.
fn process(
    shared: &Shared,
    session: &mut Session,
    inbuf: &mut Vec<u8>,
    out: &mut Vec<u8>,
    errors: &mut Vec<String>,
    req: &mut Request,
) -> After {
    let max_bulk_len = shared.settings().proto_max_bulk_len();
    session.mark = std::time::Instant::now();
    let mut reply = Reply::new(out, session.proto, errors);
    let mut pos = 0;
    let mut after = After::Continue;
    while pos < inbuf.len() {
        // Recomputed per request: AUTH in the same batch lifts the limits.
        let limits = RequestLimits {
            max_bulk_len,
            unauthenticated: !session.authenticated && shared.auth_required(),
        };
        match request::parse(&inbuf[pos..], &limits, req) {
            Ok(Checked::Incomplete) => break,
            Ok(Checked::Complete(n)) => {
                pos += n;
                if req.args.is_empty() {
                    continue;
                }
                let mut ctx = Ctx {
                    shared,
                    session,
                    reply: &mut reply,
                };
                match cmd::execute(&mut ctx, &req.args) {
                    Flow::Continue if reply.len() >= YIELD_OUTPUT => {
                        after = After::Yield;
                        break;
                    }
                    Flow::Continue => {}
                    Flow::Block(spec) => {
                        after = After::Block(spec);
                        break;
                    }
                    Flow::Close => {
                        after = After::Close;
                        break;
                    }
                    Flow::Shutdown => {
                        after = After::Shutdown;
                        break;
                    }
                }
            }
            Err(e) => {
                tracing::debug!("Protocol error ({e}) from client {}", session.client.id);
                reply.error(&format!("ERR Protocol error: {e}"));
                after = After::Close;
                break;
            }
        }
    }
    inbuf.drain(..pos);
    after
}
