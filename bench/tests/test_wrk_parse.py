import pytest

from bench.wrk import WrkError, parse_output

WRK_STDOUT = """Running 2s test @ http://127.0.0.1:8005/v1/models/credit:predict
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.52ms    2.01ms  31.20ms   90.00%
  4900 requests in 2.00s, 2.10MB read
Requests/sec:   2450.00
BENCH_RESULT {"requests": 4900, "duration_us": 2000000, "bytes": 2202000, "errors_connect": 1, \
"errors_read": 2, "errors_write": 0, "errors_status": 5, "errors_timeout": 3, \
"latency_mean_us": 6520.4, "latency_max_us": 31200, "p50_us": 6100, "p90_us": 8800, \
"p99_us": 14250}
"""


def test_parses_the_result_line_into_ms_and_requests_per_second():
    result = parse_output(WRK_STDOUT)
    assert result.requests == 4900
    assert result.duration_s == 2.0
    assert result.requests_per_s == 2450.0
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (6.1, 8.8, 14.25)
    assert result.mean_ms == 6.52
    assert result.max_ms == 31.2
    assert result.socket_errors == 6  # connect + read + write + timeout
    assert result.non_2xx == 5
    assert set(result.to_dict()) >= {"requests_per_s", "p50_ms", "p99_ms", "non_2xx"}


def test_the_last_result_line_wins():
    second = WRK_STDOUT.replace('"requests": 4900', '"requests": 100')
    result = parse_output(WRK_STDOUT + second.split("Requests/sec:   2450.00\n")[1])
    assert result.requests == 100


def test_output_without_a_result_line_is_an_error_quoting_it():
    with pytest.raises(WrkError, match="unable to connect"):
        parse_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_zero_duration_gives_zero_throughput_not_a_crash():
    text = WRK_STDOUT.replace('"duration_us": 2000000', '"duration_us": 0')
    assert parse_output(text).requests_per_s == 0.0
