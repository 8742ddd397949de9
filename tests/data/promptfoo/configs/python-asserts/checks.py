def get_assert(output, context):
    return context["vars"]["message"] in output


def length_score(output, context):
    return min(1.0, len(output) / 10)
