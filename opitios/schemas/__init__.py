"""marshmallow schemas: ``*Args`` validate input, ``*Schema`` shape output; one module per resource."""
