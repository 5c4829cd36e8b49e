"""Settings shared by every test folder."""


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'slow: takes more than a few seconds (deselect with -m "not slow")')
    config.addinivalue_line(
        'markers', 'multithreaded_executor: the ros_executor fixture spins with 2 threads')
    # lark (imported by the generated message modules) uses modules Python 3.11 deprecates
    config.addinivalue_line(
        'filterwarnings', "ignore:module 'sre_:DeprecationWarning:lark")
