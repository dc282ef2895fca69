# POST /process: the prior server's API, byte for byte.
import json

from conftest import MOCK_REVERSE


def test_process_exact_bytes(node, model_repo):
    n = node(repo=model_repo({"reverse": MOCK_REVERSE}))
    status, headers, body = n.request("POST", "/process", body=b'{"message": "hello world"}',
                                      headers={"Content-Type": "application/json"})
    assert status == 200
    assert body == b'{"result": "WORKER_PROCESSED: DLROW OLLEH"}'
    assert headers["content-type"] == "application/json"
    status, _, body = n.request("POST", "/process", body=b'{"message": "hello"}')
    assert body == b'{"result": "WORKER_PROCESSED: OLLEH"}'


def test_process_escaping_and_empty(node, model_repo):
    n = node(repo=model_repo({"reverse": MOCK_REVERSE}))
    status, _, body = n.request("POST", "/process", body=json.dumps({"message": 'a"b\\c\n'}))
    assert status == 200
    assert json.loads(body) == {"result": 'WORKER_PROCESSED: \nC\\B"A'}
    status, _, body = n.request("POST", "/process", body=b'{"message": ""}')
    assert status == 200 and body == b'{"result": "WORKER_PROCESSED: "}'


def test_process_many_in_parallel(node, model_repo):
    from concurrent.futures import ThreadPoolExecutor
    n = node(repo=model_repo({"reverse": MOCK_REVERSE}))

    def one(i):
        return n.request("POST", "/process", body=json.dumps({"message": "test message %d" % i}))

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(64)))
    for i, (status, _, body) in enumerate(results):
        assert status == 200
        assert json.loads(body)["result"] == "WORKER_PROCESSED: " + ("test message %d" % i)[::-1].upper()


def test_process_bad_requests(node, model_repo):
    n = node(repo=model_repo({"reverse": MOCK_REVERSE}))
    for body in [b"", b"{", b"[]", b'{"msg": "x"}', b'{"message": 5}', b'{"message": null}']:
        status, headers, data = n.request("POST", "/process", body=body)
        assert status == 400, body
        err = json.loads(data)["error"]
        assert err


def test_process_without_reverse_model(node, model_repo):
    from conftest import MOCK_IDENTITY
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}))
    status, headers, data = n.request("POST", "/process", body=b'{"message": "x"}')
    assert status == 503
    assert "reverse" in json.loads(data)["error"]


def test_process_one_pass_and_full_parser_agree(node, model_repo):
    # {"message": "..."} alone is read in one pass; with another key it goes through jansson:
    # both unescape the same, and what either refuses is a 400
    n = node(repo=model_repo({"reverse": MOCK_REVERSE}))
    msg = b'"a\\u00fc\\"\\\\\\/\\n\\ud83d\\ude00 \xc3\xa9z"'
    answers = []
    for body in [b'{"message": ' + msg + b'}', b' {"message":' + msg + b' }\r\n',
                 b'{"message": ' + msg + b', "other": 1}', b'{"other": [], "message": ' + msg + b'}']:
        status, _, data = n.request("POST", "/process", body=body)
        assert status == 200, body
        answers.append(json.loads(data)["result"])
    assert answers == ['WORKER_PROCESSED: Z\u00e9 \U0001F600\n/\\"\u00fcA'] * 4, answers
    for body in [b'{"message": "x"} y', b'{"message": "\xff"}', b'{"message": "a\\ud800"}',
                 b'{"message": "a\x01"}', b'{"message": "x"', b'{"message": "x}']:
        status, _, data = n.request("POST", "/process", body=body)
        assert status == 400, body
        assert json.loads(data)["error"]
