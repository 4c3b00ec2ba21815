use super::*;
use crate::ToolRegistry;

fn hanging_call(index: usize) -> Launch {
    let tools = ToolRegistry::new().with_raw_fn("hang", |_| Box::pin(std::future::pending()));
    Launch {
        index,
        id: format!("call_{index}").into(),
        name: "hang".into(),
        input: Value::Null,
        runner: tools.get("hang").unwrap().runner.clone(),
        timeout: None,
    }
}

fn poll_now(exec: &mut Executor) -> Poll<Option<TaskEvent>> {
    exec.poll_event(&mut Context::from_waker(Waker::noop()))
}

/// A slot lent to blocking work frees once both the task's `Finished` and the loan's
/// `Released` are in, whichever comes first (found in review: a `Released` that
/// overtook its `Finished` let the next call start before that end was reported).
#[tokio::test]
async fn a_lent_slot_frees_after_both_reports_in_either_order() {
    for released_first in [false, true] {
        let mut exec = Executor::new(NonZeroUsize::MIN, TurnId(1), OrphanBuffer::new());
        exec.launch(hanging_call(0));
        exec.launch(hanging_call(1));
        assert!(matches!(
            poll_now(&mut exec),
            Poll::Ready(Some(TaskEvent::Started(0)))
        ));
        assert!(
            poll_now(&mut exec).is_pending(),
            "call 1 waits for the slot"
        );
        let finished = Message::Finished {
            index: 0,
            outcome: Outcome::TimedOut(Duration::from_millis(1)),
            freed: false,
        };
        let (first, second) = if released_first {
            (Message::Released(0), finished)
        } else {
            (finished, Message::Released(0))
        };
        exec.tx.send(first).unwrap();
        let after_first = poll_now(&mut exec);
        exec.tx.send(second).unwrap();
        let mut events = Vec::new();
        if let Poll::Ready(Some(e)) = after_first {
            events.push(e);
        }
        while let Poll::Ready(Some(e)) = poll_now(&mut exec) {
            events.push(e);
        }
        let got: Vec<String> = events
            .iter()
            .map(|e| match e {
                TaskEvent::Started(i) => format!("S{i}"),
                TaskEvent::Finished(i, _) => format!("F{i}"),
            })
            .collect();
        assert_eq!(got, ["F0", "S1"], "released first: {released_first}");
        assert_eq!((exec.busy, exec.live), (1, 1));
    }
}
