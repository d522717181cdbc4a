from distill.plugin import hookimpl


@hookimpl
def register_vocoders(register):
    register(object)  # not a VocoderBase subclass: distill must refuse it with a clear message


@hookimpl
def register_commands(cli):
    raise ValueError("register_commands fails on purpose")
