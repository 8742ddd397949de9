def get_prompt(context):
    return "hi"
