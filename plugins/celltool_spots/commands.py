def add(app):
    pass
