"""The session's outbox: control messages first, bounded data, clean close."""

import threading
import unittest

from altar_runtime import session


class Outbox(unittest.TestCase):
    def test_control_messages_go_first(self):
        box = session._Outbox()
        for i in range(3):
            box.put_data(f"chunk-{i}", lambda: False)
        box.put_ctrl("heartbeat")
        self.assertEqual([box.get() for _ in range(4)], ["heartbeat", "chunk-0", "chunk-1", "chunk-2"])

    def test_a_full_queue_holds_the_sender_until_stopped(self):
        box = session._Outbox()
        for i in range(session.SEND_QUEUE):
            self.assertTrue(box.put_data(i, lambda: False))
        stop = threading.Event()
        result = []
        t = threading.Thread(target=lambda: result.append(box.put_data("late", stop.is_set)))
        t.start()
        stop.set()
        t.join()
        self.assertEqual(result, [False])

    def test_a_full_queue_takes_the_message_once_read(self):
        box = session._Outbox()
        for i in range(session.SEND_QUEUE):
            box.put_data(i, lambda: False)
        result = []
        t = threading.Thread(target=lambda: result.append(box.put_data("late", lambda: False)))
        t.start()
        self.assertEqual(box.get(), 0)
        t.join()
        self.assertEqual(result, [True])

    def test_control_queue_is_bounded(self):
        box = session._Outbox()
        accepted = [box.put_ctrl(i) for i in range(session.CTRL_QUEUE + 3)]
        self.assertEqual(accepted.count(True), session.CTRL_QUEUE)

    def test_close_wakes_the_reader_and_refuses_senders(self):
        box = session._Outbox()
        got = []
        t = threading.Thread(target=lambda: got.append(box.get()))
        t.start()
        box.close()
        t.join()
        self.assertEqual(got, [None])
        self.assertFalse(box.put_data("x", lambda: False))
        self.assertFalse(box.put_ctrl("x"))


if __name__ == "__main__":
    unittest.main()
