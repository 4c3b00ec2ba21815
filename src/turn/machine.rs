//! The turn's state machine: what each model event, task event and the deadline do to the
//! calls of the message, and what is emitted when. Synchronous; the stream around it
//! (`super::TurnStream`) does the polling.

use std::collections::VecDeque;

use crate::assemble::Assembler;
use crate::event::{StopKind, StreamEvent, Usage};
use crate::execute::{Executor, Launch, Orphan, Outcome, ToolErrorKind, ToolResult};
use crate::request;
use crate::tool::ToolRegistry;

use super::{DispatchPolicy, TurnConfig, TurnEvent, TurnOutcome};

/// Where one call of the message stands.
#[derive(Debug)]
pub(super) enum Slot {
    /// Its arguments are still streaming.
    Streaming,
    /// Complete, waiting for the message to end (batched).
    Held,
    /// Launched; the task has not ended. `started`: it got a concurrency slot.
    Running { started: bool },
    /// Answered, not yet emitted. `launched`: a task ran for it.
    Done { result: ToolResult, launched: bool },
    /// Emitted.
    Emitted,
}

/// Where the turn stands (see the [module docs](super)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Streaming,
    Committed,
    Abandoned,
    Done,
}

/// The parts of the stream the state machine works on (everything but the input).
pub(super) struct Machine<'a> {
    pub(super) assembler: &'a mut Assembler,
    pub(super) tools: &'a ToolRegistry,
    pub(super) config: &'a TurnConfig,
    pub(super) exec: &'a mut Executor,
    pub(super) slots: &'a mut Vec<Slot>,
    pub(super) phase: &'a mut Phase,
    pub(super) next_emit: &'a mut usize,
    pub(super) queue: &'a mut VecDeque<TurnEvent>,
    pub(super) results: &'a mut Vec<ToolResult>,
    pub(super) abandoned_because: &'a mut Option<String>,
    pub(super) late_usage: &'a mut Usage,
}

impl Machine<'_> {
    fn result(&self, index: usize, error: Option<ToolErrorKind>, content: String) -> ToolResult {
        let call = &self.assembler.message().tool_calls[index];
        ToolResult {
            turn: self.config.turn,
            index,
            id: call.id.clone(),
            name: call.name.clone(),
            error,
            content,
            parts: Vec::new(),
            committed: *self.phase != Phase::Abandoned,
        }
    }

    /// A model event: pass it through, assemble it, dispatch what it completes.
    pub(super) fn on_model_event(&mut self, event: StreamEvent) {
        if *self.phase == Phase::Committed {
            // What was committed is final: later events (usage aside) cannot add calls to
            // the history without results, so the assembler, which holds the committed
            // message, takes no more of them.
            if let StreamEvent::MessageDelta { usage, .. } = &event {
                self.late_usage.update(*usage);
            }
            self.queue.push_back(TurnEvent::Model(event));
            return;
        }
        let completed = self.assembler.push(&event);
        let ends_message = matches!(event, StreamEvent::MessageStop);
        self.queue.push_back(TurnEvent::Model(event));
        if *self.phase != Phase::Streaming {
            return;
        }
        // One slot per call of the message. A spliced-in restart drops the partial
        // message's calls (the assembler allows it only while none has completed, so their
        // slots are all still streaming): their slots go with them.
        let calls = self.assembler.message().tool_calls.len();
        self.slots.truncate(calls);
        while self.slots.len() < calls {
            self.slots.push(Slot::Streaming);
        }
        match completed {
            Ok(Some(i)) => {
                let call = self.assembler.message().tool_calls[i].clone();
                // Batched needs no lookup (the launch makes its own).
                let policy = self.config.policy;
                let early = policy != DispatchPolicy::Batched
                    && policy.starts_early(self.tools.get(&call.name));
                self.queue.push_back(TurnEvent::ToolCall {
                    turn: self.config.turn,
                    call,
                });
                self.slots[i] = Slot::Held;
                if early {
                    self.launch(i);
                }
            }
            Ok(None) => {}
            Err(e) => self.abandon(format!("the model stream did not assemble: {e}")),
        }
        if ends_message {
            self.decide();
        }
    }

    /// Launches call `index`, or answers it at once when it cannot run.
    fn launch(&mut self, index: usize) {
        let call = &self.assembler.message().tool_calls[index];
        let input = match &call.input {
            Ok(input) => input.clone(),
            Err(e) => {
                let r = self.result(
                    index,
                    Some(ToolErrorKind::InvalidArguments),
                    format!("invalid arguments: {e}"),
                );
                self.slots[index] = Slot::Done {
                    result: r,
                    launched: false,
                };
                return;
            }
        };
        let Some(tool) = self.tools.get(&call.name) else {
            let r = self.result(
                index,
                Some(ToolErrorKind::UnknownTool),
                format!("unknown tool `{}`", call.name),
            );
            self.slots[index] = Slot::Done {
                result: r,
                launched: false,
            };
            return;
        };
        // A typed tool's arguments that do not fit its type: the model's mistake, answered
        // as such (the tool is not called).
        if let Err(message) = tool.check_arguments(&input) {
            let r = self.result(index, Some(ToolErrorKind::InvalidArguments), message);
            self.slots[index] = Slot::Done {
                result: r,
                launched: false,
            };
            return;
        }
        self.exec.launch(Launch {
            index,
            id: call.id.clone(),
            name: call.name.clone(),
            input,
            runner: tool.runner.clone(),
            timeout: tool.options.get_timeout().or(self.config.tool_timeout),
        });
        self.slots[index] = Slot::Running { started: false };
    }

    /// The message ended (or the input did): commit or abandon.
    pub(super) fn decide(&mut self) {
        if *self.phase != Phase::Streaming {
            return;
        }
        let m = self.assembler.message();
        match (m.complete, m.stop_kind()) {
            (true, Some(StopKind::ToolUse)) => {
                *self.phase = Phase::Committed;
                for i in 0..self.slots.len() {
                    match self.slots[i] {
                        Slot::Held => self.launch(i),
                        Slot::Streaming => {
                            let r = self.result(
                                i,
                                Some(ToolErrorKind::InvalidArguments),
                                "invalid arguments: the call never completed".into(),
                            );
                            self.slots[i] = Slot::Done {
                                result: r,
                                launched: false,
                            };
                        }
                        _ => {}
                    }
                }
            }
            (complete, stop) => {
                let why = match (complete, stop) {
                    (_, Some(StopKind::Error)) => "the stream carried a provider error".into(),
                    (true, Some(kind)) => format!("the message ended with {kind}, not tool_use"),
                    _ => "the stream ended before the message did".into(),
                };
                self.abandon(why);
            }
        }
    }

    /// The turn will not commit: cancel what started; nothing enters history.
    pub(super) fn abandon(&mut self, why: String) {
        // Once committed, the turn's calls are history: a later failure of the model
        // stream (after its end marker) changes nothing.
        if *self.phase != Phase::Streaming {
            return;
        }
        *self.phase = Phase::Abandoned;
        *self.abandoned_because = Some(why);
        for (i, slot) in self.slots.iter_mut().enumerate() {
            match slot {
                Slot::Running { .. } => self.exec.abort(i),
                Slot::Done { result, launched } if *launched => result.committed = false,
                Slot::Done { .. } | Slot::Held | Slot::Streaming => *slot = Slot::Emitted,
                Slot::Emitted => {}
            }
        }
    }

    /// A call got its concurrency slot.
    pub(super) fn on_started(&mut self, index: usize) {
        if let Some(Slot::Running { started }) = self.slots.get_mut(index) {
            *started = true;
            let call = &self.assembler.message().tool_calls[index];
            self.queue.push_back(TurnEvent::Started {
                turn: self.config.turn,
                index,
                id: call.id.clone(),
                name: call.name.clone(),
            });
        }
    }

    /// A task ended.
    pub(super) fn on_finished(&mut self, index: usize, outcome: Outcome) {
        let Slot::Running { started } = self.slots[index] else {
            // Already answered (deadline): whatever it produced is late.
            if let Outcome::Output(output) = outcome {
                let call = &self.assembler.message().tool_calls[index];
                self.config.orphans.push(Orphan {
                    turn: self.config.turn,
                    index,
                    id: call.id.clone(),
                    name: call.name.clone(),
                    output,
                });
            }
            return;
        };
        let mut parts = Vec::new();
        let (error, content) = match outcome {
            _ if *self.phase == Phase::Abandoned => (
                Some(ToolErrorKind::Cancelled),
                format!(
                    "cancelled: {}",
                    self.abandoned_because
                        .as_deref()
                        .unwrap_or("the turn did not commit")
                ),
            ),
            Outcome::Output(Ok(content)) => {
                let (text, p) = content.into_text_and_parts();
                parts = p;
                (None, text)
            }
            // SPEC §6: "a tool result is never empty (an empty error is replaced by a
            // message naming the failure)"; Anthropic refuses an empty error result and
            // Bedrock blank text.
            Outcome::Output(Err(e)) if e.message().trim().is_empty() => (
                Some(e.kind()),
                format!(
                    "the tool `{}` failed without a message",
                    self.assembler.message().tool_calls[index].name
                ),
            ),
            // The tool says which: its own failure, or arguments it refused.
            Outcome::Output(Err(e)) => (Some(e.kind()), e.into_message()),
            Outcome::TimedOut(limit) => (
                Some(ToolErrorKind::TimedOut),
                format!("timed out after {} ms", limit.as_millis()),
            ),
            Outcome::Panicked => (Some(ToolErrorKind::Panicked), "the tool panicked".into()),
            Outcome::Aborted => (Some(ToolErrorKind::Cancelled), "cancelled".into()),
        };
        let mut result = self.result(index, error, content);
        result.parts = parts;
        // Progress pairs: a call cancelled while it waited for a slot never started.
        if started {
            self.queue.push_back(TurnEvent::Finished {
                turn: self.config.turn,
                index,
                id: result.id.clone(),
                name: result.name.clone(),
                ok: result.is_ok(),
            });
        }
        self.slots[index] = Slot::Done {
            result,
            launched: true,
        };
    }

    /// The turn deadline passed.
    pub(super) fn on_deadline(&mut self) {
        let ms = self.config.turn_timeout.unwrap_or_default().as_millis();
        if *self.phase == Phase::Streaming {
            // The message never ended: calls that started are cancelled, not timed out.
            self.abandon(format!(
                "turn deadline of {ms} ms passed while the model was streaming"
            ));
            return;
        }
        for i in 0..self.slots.len() {
            if let Slot::Running { started } = self.slots[i] {
                self.exec.abort(i);
                let r = self.result(
                    i,
                    Some(ToolErrorKind::TurnDeadline),
                    format!("turn deadline of {ms} ms passed before the tool finished"),
                );
                if started {
                    self.queue.push_back(TurnEvent::Finished {
                        turn: self.config.turn,
                        index: i,
                        id: r.id.clone(),
                        name: r.name.clone(),
                        ok: false,
                    });
                }
                self.slots[i] = Slot::Done {
                    result: r,
                    launched: true,
                };
            }
        }
    }

    /// Emits results in request order, then the outcome. Nothing is emitted while the
    /// message streams: whether results belong to history is not known yet.
    pub(super) fn emit(&mut self) {
        if *self.phase == Phase::Streaming {
            return;
        }
        while *self.next_emit < self.slots.len() {
            let i = *self.next_emit;
            match std::mem::replace(&mut self.slots[i], Slot::Emitted) {
                Slot::Done { result, .. } => {
                    self.results.push(result.clone());
                    self.queue.push_back(TurnEvent::Result(result));
                }
                Slot::Emitted => {}
                other => {
                    self.slots[i] = other;
                    return;
                }
            }
            *self.next_emit += 1;
        }
        // A committed turn ends with its last result, whether or not the model stream has
        // ended (a kept-alive connection must not hold the turn).
        let settled = match *self.phase {
            Phase::Committed => true,
            Phase::Abandoned => self.exec.len() == 0,
            Phase::Streaming | Phase::Done => false,
        };
        if settled {
            self.finish();
        }
    }

    fn finish(&mut self) {
        let committed = *self.phase == Phase::Committed;
        *self.phase = Phase::Done;
        let mut message = std::mem::take(self.assembler).finish();
        message.usage.update(*self.late_usage);
        let provider = self.config.provider;
        let results = std::mem::take(self.results);
        let turn = self.config.turn;
        let outcome = TurnOutcome {
            turn,
            committed,
            abandoned_because: self.abandoned_because.take(),
            assistant_message: request::assistant_message(provider, &message),
            results_message: committed.then(|| {
                request::results_message_for(
                    provider,
                    &message,
                    self.config.model.as_deref(),
                    &results,
                )
            }),
            orphans: self
                .config
                .orphans
                .snapshot()
                .into_iter()
                .filter(|o| o.turn == turn)
                .collect(),
            message,
            results,
        };
        self.queue.push_back(TurnEvent::Outcome(Box::new(outcome)));
    }
}
