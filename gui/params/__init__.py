"""The generation parameters: observable state, widget bindings, the panel and model picker."""
