"""Analytics plugins: pure functions of pandas data (see ``cei.plugins.base``)."""
