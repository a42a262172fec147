# moto_server with one request at a time.
#
# moto's DynamoDB checks a condition and then writes, with no lock, and TransactWriteItems rolls
# a failed transaction back by restoring a copy of the whole table taken before it began, which
# erases every write another thread made in between. Real DynamoDB serializes conditional writes
# and transactions; Capstan's exactly-once promise rests on that, and concurrent e2e tests (six
# alarms at once) saw moto lose a committed intent. Serving one request at a time gives moto the
# atomicity real AWS has. Fault injection happens in the tests' HTTP client, never here, so no
# request blocks the server.
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

_lock = threading.Lock()
_call = DomainDispatcherApplication.__call__


def _serial_call(self, environ, start_response):
    with _lock:
        # Flask has built the whole body by the time it returns: reading it needs no lock.
        return _call(self, environ, start_response)


DomainDispatcherApplication.__call__ = _serial_call

if __name__ == "__main__":
    main(sys.argv[1:])
