from flask_babel import lazy_gettext as _l
from ..forms import Form
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(Form):
    identifier = StringField(_l("Email or mobile number"), validators=[
        DataRequired(_l("Enter your email or mobile number.")), Length(max=254)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter your password.")), Length(max=200)],
        render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me logged in on this device"))
    next = HiddenField()


class RegisterForm(Form):
    display_name = StringField(_l("Your name"), validators=[
        DataRequired(_l("Tell us what to call you.")), Length(max=80)],
        render_kw={"autocomplete": "name"})
    identifier = StringField(_l("Email or mobile number"), validators=[
        DataRequired(_l("Enter your email or mobile number.")), Length(max=254)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Choose a password.")), Length(max=200)],
        render_kw={"autocomplete": "new-password"},
        description=_l("At least 10 characters, with letters and digits."))
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(_l("Repeat the password.")),
        EqualTo("password", _l("The two passwords are different."))],
        render_kw={"autocomplete": "new-password"})


class LocaleForm(Form):
    locale = SelectField(_l("Language"), choices=[("en", "English"), ("zh_Hans", "简体中文")])
    next = HiddenField()


class ForgotPasswordForm(Form):
    identifier = StringField(_l("Email or mobile number"), validators=[
        DataRequired(_l("Enter your email or mobile number.")), Length(max=254)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"})


class ResetPasswordForm(Form):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Choose a password.")), Length(max=200)],
        render_kw={"autocomplete": "new-password"},
        description=_l("At least 10 characters, with letters and digits."))
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(_l("Repeat the password.")),
        EqualTo("password", _l("The two passwords are different."))],
        render_kw={"autocomplete": "new-password"})
